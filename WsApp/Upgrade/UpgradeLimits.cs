using Microsoft.AspNetCore.HostFiltering;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace ServerlessWs.App.Upgrade;

/// <summary>
/// The limits Kestrel and the host filtering apply to every request, applied by <see cref="WebSocketFastPath"/> to the
/// upgrades it serves in front of them (docs/protocol.md §1), so that no connection escapes them by being the fast
/// path's: the request line, the number of header fields, <c>AllowedHosts</c>, and the number of connections.
/// </summary>
internal sealed class UpgradeLimits(KestrelServerLimits limits, HostFilteringOptions hosts)
{
    // Upgrades the fast path holds (reserved at admission): Kestrel cannot count them, so they are bounded here.
    private int _live;

    /// <summary>Kestrel's answer to <paramref name="head"/>, then the host filtering's, in that order; null when it passes.</summary>
    public (int Status, string Reason)? Refusal(UpgradeRequestHead head) =>
        head.RequestLineBytes > limits.MaxRequestLineSize
            ? (StatusCodes.Status414UriTooLong, "The request line is too long.")
            : head.FieldCount > limits.MaxRequestHeaderCount
                ? (StatusCodes.Status431RequestHeaderFieldsTooLarge, "The request has too many header fields.")
                : !IsHostAllowed(head.Headers.Host.ToString())
                    ? (StatusCodes.Status400BadRequest, "This host is not allowed.")
                    : null;

    /// <summary>
    /// Takes one of the connections Kestrel's <c>MaxConcurrentUpgradedConnections</c> and <c>MaxConcurrentConnections</c>
    /// allow; false when none is left. Taken before the admission so concurrent connects cannot overshoot; every
    /// true must be paired with <see cref="Release"/>.
    /// </summary>
    public bool TryReserve()
    {
        var max = Math.Min(limits.MaxConcurrentUpgradedConnections ?? long.MaxValue, limits.MaxConcurrentConnections ?? long.MaxValue);
        if (Interlocked.Increment(ref _live) <= max)
        {
            return true;
        }

        Release();
        return false;
    }

    public void Release() => Interlocked.Decrement(ref _live);

    /// <summary>
    /// The host filtering's rule (<c>AllowedHosts</c>, as <c>HostFilteringMiddleware</c> applies it): <c>*</c> allows
    /// any; otherwise the host, its port aside and in any letter case, must be listed, or be a subdomain of a
    /// <c>*.domain</c> entry.
    /// </summary>
    private bool IsHostAllowed(string host)
    {
        var allowedHosts = hosts.AllowedHosts;
        if (allowedHosts.Count == 0 || allowedHosts.Contains("*"))
        {
            return true;
        }

        var name = HostString.FromUriComponent(host).Host;
        foreach (var allowed in allowedHosts)
        {
            if (allowed.StartsWith("*.", StringComparison.Ordinal)
                ? name.EndsWith(allowed[1..], StringComparison.OrdinalIgnoreCase)
                : name.Equals(allowed, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
