using ServerlessWs.App.Connections;
using ServerlessWs.Core.Sessions;

namespace ServerlessWs.App.Admission;

/// <summary>A connect that passed every check and holds its claim and its groups, waiting for its upgrade.</summary>
internal sealed record AdmittedConnect(string ClientId, ClaimResult Claim, ConnectRequest Request, PendingClaims.Window Window, PreparedGroup[] Groups);

/// <summary>
/// Where delivery of one of a connect's groups starts: the welcome says after <paramref name="StartsAfter"/>;
/// <paramref name="Replay"/> is sent, and live delivery goes on after <paramref name="Position"/>.
/// </summary>
internal sealed record PreparedGroup(string Group, long StartsAfter, long Position, IReadOnlyList<LogEntry> Replay, bool Recovered)
{
    /// <summary>Whether the connect holds a reference to the group (to be attached or released).</summary>
    public bool Referenced { get; init; } = true;
}
