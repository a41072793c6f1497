namespace ServerlessWs.Core.Protocol;

/// <summary>Names the system itself uses in the places of client ids and groups (docs/protocol.md §5a, §5b).</summary>
public static class Groups
{
    /// <summary>
    /// The broadcast group: every connected client is a member without joining. <c>*</c> is outside the id
    /// charset, so no client can join, leave or send to it; only the admin API broadcasts.
    /// </summary>
    public const string Broadcast = "*";

    /// <summary>A group a <c>since</c> may name: a valid id, or the broadcast group.</summary>
    public static bool IsNameOrBroadcast(ReadOnlySpan<char> group) =>
        group.SequenceEqual(Broadcast) || Identifiers.IsValid(group);
}
