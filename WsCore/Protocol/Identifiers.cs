namespace ServerlessWs.Core.Protocol;

/// <summary>
/// Rules for client ids and group names (docs/protocol.md §1, §5a): 1-128 characters of <c>[A-Za-z0-9._:-]</c>.
/// The same rule guards Redis keys, so an id can never smuggle a key separator or a hash tag brace.
/// </summary>
public static class Identifiers
{
    public const int MaxLength = 128;

    /// <summary>
    /// The sender of what the admin API sends. Reserved: no client may connect as it (in any letter case), so a
    /// message <c>from: "admin"</c> can only come from the admin API (which also marks it <c>admin: true</c>).
    /// </summary>
    public const string AdminSender = "admin";

    /// <summary>Whether <paramref name="clientId"/> is an id the system itself uses, refused to clients.</summary>
    public static bool IsReserved(ReadOnlySpan<char> clientId) =>
        clientId.Equals(AdminSender, StringComparison.OrdinalIgnoreCase);

    public static bool IsValid(ReadOnlySpan<char> value)
    {
        if (value.IsEmpty || value.Length > MaxLength)
        {
            return false;
        }

        foreach (var c in value)
        {
            if (!IsAllowed(c))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A generated client id: a lowercase UUID in 8-4-4-4-12 form.</summary>
    public static string NewClientId() => Guid.NewGuid().ToString("D");

    private static bool IsAllowed(char c) =>
        char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or ':' or '-';
}
