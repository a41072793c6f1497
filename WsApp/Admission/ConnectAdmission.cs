using System.Net.WebSockets;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ServerlessWs.App.Auth;
using ServerlessWs.App.Connections;
using ServerlessWs.App.Heartbeat;
using ServerlessWs.App.Upstream;
using ServerlessWs.Core.Options;
using ServerlessWs.Core.Protocol;
using ServerlessWs.Core.Routing;
using ServerlessWs.Core.Sessions;
using ServerlessWs.Core.Telemetry;

namespace ServerlessWs.App.Admission;

/// <summary>
/// A connect from its request to its open connection, the same on both upgrade paths (<see cref="WebSocketEndpoint"/>
/// and the fast path): the checks and refusals, the claim (with the takeover of an older socket), where its groups'
/// delivery starts, the connection slots, then the welcome and registration once upgraded. The API is
/// <see cref="AdmitAsync"/>, then <see cref="RunAsync"/> or <see cref="AbandonAsync"/>; <see cref="RefuseAsync"/>
/// answers a connect refused before it.
/// </summary>
internal sealed class ConnectAdmission : IDisposable
{
    private readonly ISessionStore _store;
    private readonly INodeBus _bus;
    private readonly WsOptions _options;
    private readonly ConnectionContext _context;
    private readonly ILogger<ConnectAdmission> _logger;
    private readonly ClientAuthentication _auth;
    private readonly LocalConnections _connections;
    private readonly LocalGroups _groups;
    private readonly ClaimReleases _releases;
    private readonly NodeLifecycle _node;

    // System.Threading.RateLimiting directly (the library ASP.NET Core's rate limiting middleware is built on),
    // not the middleware: the contract answers 403 for a bad origin before 429, and middleware would run first.
    private readonly PartitionedRateLimiter<string>? _connectLimiter;

    // Connection slots taken: by connects being admitted or upgraded, and by open connections (Ws:MaxConnections).
    private int _active;

    public ConnectAdmission(
        ISessionStore store,
        INodeBus bus,
        MessageRouter router,
        UpstreamInvoker upstream,
        LocalConnections connections,
        LocalGroups groups,
        OutboxMeter outboxes,
        ClaimReleases releases,
        NodeLifecycle node,
        ClientAuthentication auth,
        IOptions<WsOptions> options,
        TimeProvider time,
        ILogger<ConnectAdmission> logger)
    {
        _auth = auth;
        _store = store;
        _bus = bus;
        _options = options.Value;
        _logger = logger;
        _connections = connections;
        _groups = groups;
        _releases = releases;
        _node = node;
        _context = new ConnectionContext(_options, store, router, time, logger, groups, upstream, outboxes, EndedAsync);
        if (_options.ConnectsPerSecondPerAddress > 0)
        {
            _connectLimiter = CreateConnectLimiter(_options.ConnectsPerSecondPerAddress);
        }
    }

    private string ServerId => _options.ServerId;

    /// <summary>
    /// Everything before the upgrade: every refusal is plain HTTP written to <paramref name="http"/> and changes no
    /// state, in the contract's order: 503 (draining or full), 403 (origin), 429 (rate), 400 (malformed), 401
    /// (access_token, then resumeToken). A non-null result holds a claim and a connection slot: the caller must pass
    /// it to <see cref="RunAsync"/> once upgraded (or to <see cref="AbandonAsync"/>), and must not keep
    /// <paramref name="http"/> for longer than this call.
    /// </summary>
    public async Task<AdmittedConnect?> AdmitAsync(HttpContext http)
    {
        // Counted before any await so concurrent connects cannot overshoot Ws:MaxConnections.
        var active = Interlocked.Increment(ref _active);
        AdmittedConnect? admission = null;
        try
        {
            if (await TryRefuseAsync(http, active) is { } request)
            {
                admission = await ClaimAsync(http, request);
            }

            return admission;
        }
        finally
        {
            if (admission is null)
            {
                Interlocked.Decrement(ref _active);
            }
        }
    }

    /// <summary>The upgrade failed: releases the admission's claim, its hold on its groups and its connection slot.</summary>
    public async Task AbandonAsync(AdmittedConnect admission)
    {
        _connections.CloseWindow(admission.Window);
        foreach (var group in admission.Groups.Where(g => g.Referenced))
        {
            _groups.Release(group.Group);
        }

        try
        {
            await _releases.ReleaseAsync(admission.ClientId, admission.Claim.Epoch);
        }
        finally
        {
            Interlocked.Decrement(ref _active);
        }
    }

    private async Task<ConnectRequest?> TryRefuseAsync(HttpContext http, int active)
    {
        if (_node.IsDraining)
        {
            await RefuseAsync(http, StatusCodes.Status503ServiceUnavailable, "The server is draining; connect to another one.");
            return null;
        }

        if (_options.MaxConnections > 0 && active > _options.MaxConnections)
        {
            await RefuseAsync(http, StatusCodes.Status503ServiceUnavailable, "The server is full.");
            return null;
        }

        if (!IsOriginAllowed(http.Request.Headers.Origin))
        {
            await RefuseAsync(http, StatusCodes.Status403Forbidden, "This origin is not allowed.");
            return null;
        }

        if (_connectLimiter is not null)
        {
            var address = http.Connection.RemoteIpAddress?.ToString() ?? string.Empty;
            using var lease = _connectLimiter.AttemptAcquire(address);
            if (!lease.IsAcquired)
            {
                await RefuseAsync(http, StatusCodes.Status429TooManyRequests, "Too many connects from this address.");
                return null;
            }
        }

        var parsed = ConnectRequest.TryParse(http.Request.Query, _options, out var error);
        if (parsed is null)
        {
            await RefuseAsync(http, StatusCodes.Status400BadRequest, error!);
            return null;
        }

        var (identity, status, refusal) = await _auth.AuthenticateAsync(http, parsed.ClientId);
        if (identity is null)
        {
            await RefuseAsync(http, status, refusal!);
            return null;
        }

        return parsed with { ClientId = identity.ClientId, UserId = identity.UserId };
    }

    private async Task<AdmittedConnect?> ClaimAsync(HttpContext http, ConnectRequest request)
    {
        var clientId = request.ClientId ?? Identifiers.NewClientId();
        // Opened before the claim is sent: whatever rings for this id after the claim is held until Open.
        var window = _connections.OpenWindow(clientId);
        ClaimResult claim;
        try
        {
            claim = await _store.ClaimAsync(clientId, request.ResumeToken, request.LastSeq ?? 0, ServerId, http.RequestAborted);
        }
        catch (StoreUnavailableException e)
        {
            _connections.CloseWindow(window);
            ConnectionLog.StoreUnavailable(_logger, "claim", clientId, e);
            await RefuseAsync(http, StatusCodes.Status503ServiceUnavailable, "The coordination store cannot be reached; retry later.");
            return null;
        }
        catch
        {
            // Cancelled, or a bug (not an outage: it must not read as one): the window closes all the same.
            _connections.CloseWindow(window);
            throw;
        }

        if (claim.Status == ClaimStatus.Unauthorized)
        {
            _connections.CloseWindow(window);
            await RefuseAsync(http, StatusCodes.Status401Unauthorized, "This clientId is in use; a valid resumeToken is required.");
            return null;
        }

        // From here on the id is this node's, with no socket yet: whatever fails before the upgrade must give the
        // claim back (fenced by its epoch) and close the window, or the id stays owned by a server with no socket and
        // no TTL, and the window keeps holding what rings for it (docs/protocol.md §1, 503 after a claim).
        PreparedGroup[] groups;
        try
        {
            if (claim.PreviousServer is { } previous)
            {
                // The old socket, on whatever node, is closed with 4000; epochs below ours only.
                ConnectionLog.TakenOver(_logger, clientId, previous);
                WsMetrics.Takeovers.Add(1);
                await _bus.KickAsync(previous, clientId, claim.Epoch - 1, CloseCodes.TakenOver, CancellationToken.None);
            }

            groups = await PrepareGroupsAsync(claim, request);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Every failure after the claim gives it back and answers (issue 17 item 6); only a store outage is
            // logged as one, anything else is a bug and logged so.
            _connections.CloseWindow(window);
            await _releases.ReleaseAsync(clientId, claim.Epoch);
            if (e is StoreUnavailableException)
            {
                ConnectionLog.StoreUnavailable(_logger, "takeover or groups", clientId, e);
            }
            else
            {
                ConnectionLog.UnexpectedError(_logger, clientId, e);
            }

            await RefuseAsync(http, StatusCodes.Status503ServiceUnavailable, "The coordination store cannot be reached; retry later.");
            return null;
        }
        catch
        {
            // The client left: nobody to answer.
            _connections.CloseWindow(window);
            await _releases.ReleaseAsync(clientId, claim.Epoch);
            throw;
        }

        return new AdmittedConnect(clientId, claim, request, window, groups);
    }

    /// <summary>
    /// Where delivery of each of the session's groups starts (docs/protocol.md §5b), the broadcast group included:
    /// after the position a resume names with <c>since</c>, replaying the group's log from there; else at the group's
    /// current position. The node hears each group before its position is read, and holds a reference to each until
    /// the connection is opened (or abandoned).
    /// </summary>
    private async ValueTask<PreparedGroup[]> PrepareGroupsAsync(ClaimResult claim, ConnectRequest request)
    {
        var resumed = claim.Status == ClaimStatus.Resumed;
        if (claim.Groups.Count == 0)
        {
            // Most connects: only the broadcast group, which the node hears for its life; with no position named, no
            // store call and no reference.
            if (!resumed || request.Since?.TryGetValue(Groups.Broadcast, out var since) != true)
            {
                var position = _groups.BroadcastPosition;
                return [new PreparedGroup(Groups.Broadcast, position, position, [], Recovered: true) { Referenced = false }];
            }

            return [await PrepareGroupAsync(Groups.Broadcast, since, request.ClientId)];
        }

        var names = claim.Groups.Append(Groups.Broadcast).ToArray();
        var prepared = new Task<PreparedGroup>[names.Length];
        for (var i = 0; i < names.Length; i++)
        {
            prepared[i] = PrepareGroupAsync(names[i], resumed && request.Since?.TryGetValue(names[i], out var after) == true ? after : null, request.ClientId);
        }

        try
        {
            return await Task.WhenAll(prepared);
        }
        catch
        {
            foreach (var task in prepared)
            {
                if (task.IsCompletedSuccessfully)
                {
                    _groups.Release(task.Result.Group);
                }
            }

            throw;
        }
    }

    private async Task<PreparedGroup> PrepareGroupAsync(string group, long? since, string? clientId)
    {
        var current = await _groups.AcquireAsync(group);
        if (since is not { } after)
        {
            return new PreparedGroup(group, current, current, [], Recovered: true);
        }

        try
        {
            var read = await _store.ReadGroupLogAsync(group, after, CancellationToken.None);
            // A position past the group's counter means the group's log was lost: nothing to replay, and delivery
            // starts at the counter the welcome reports.
            IReadOnlyList<LogEntry> replay = after > read.LastGseq ? [] : read.Entries;
            var recovered = read.IsCompleteAfter(after);
            // The welcome names where this socket's delivery starts, the replay included: the client's own position
            // when nothing was lost; else just before the oldest message the log still had (or at the counter).
            var startsAfter = recovered ? after : replay.Count > 0 ? replay[0].Seq - 1 : read.LastGseq;
            // What the client itself sent to the group is not replayed to it, as it was not delivered to it live.
            replay = [.. replay.Where(e => e.From != clientId)];
            return new PreparedGroup(group, startsAfter, read.LastGseq, replay, recovered);
        }
        catch
        {
            _groups.Release(group);
            throw;
        }
    }

    /// <summary>
    /// The upgraded socket as this node's connection for the admitted client, with the welcome and the replay of
    /// the log the claim read; registered, then given what rang for it since the claim. The caller runs it
    /// (<see cref="ClientConnection.RunAsync"/>); the claim and the slot are released when it ends
    /// (<see cref="EndedAsync"/>). Apart from the connection, nothing of the connect is kept once this returns.
    /// </summary>
    private ClientConnection Open(AdmittedConnect admission, WebSocket socket, HeartbeatStream heartbeat)
    {
        var (clientId, claim, request, window, _) = admission;
        var connection = new ClientConnection(socket, heartbeat, clientId, claim.Epoch, claim.TokenHash, _context, request.UserId);
        var resumed = claim.Status == ClaimStatus.Resumed;
        var afterSeq = resumed ? request.LastSeq ?? 0 : claim.LastSeq;
        var log = claim.Log;
        IReadOnlyList<LogEntry> replay = afterSeq > log.LastSeq ? [] : log.Entries;
        var groups = admission.Groups;
        if (groups.Any(g => g.Replay.Count > 0))
        {
            replay = [.. replay, .. groups.SelectMany(g => g.Replay)];
        }

        var welcome = new Welcome(
            clientId,
            claim.ResumeToken,
            ServerId,
            _options.HeartbeatSeconds,
            resumed,
            replay.Count,
            Recovered: !resumed || (log.IsCompleteAfter(afterSeq) && groups.All(g => g.Recovered)),
            [.. groups.Select(g => new WelcomeGroup(g.Group, g.StartsAfter, g.Recovered))]);
        WsMetrics.Connects.Add(1, new KeyValuePair<string, object?>("resumed", resumed));
        ConnectionLog.Connected(_logger, clientId, ServerId, claim.Epoch, resumed, replay.Count);

        // Everything up to the counter at claim time is either replayed now, already seen, or lost for good; so for
        // each group up to the position the welcome reports.
        connection.Open(welcome, replay, log.LastSeq);
        foreach (var group in groups)
        {
            connection.StartGroup(group.Group, group.Position);
        }

        // Registered before the window closes: what rings from now on finds the connection in the map; what rang
        // since the claim was held. An entry both replayed and held is dropped by seq in the send pump. Attached to
        // its groups after that: what the node delivered of a group meanwhile is caught up.
        _connections.Register(connection);
        foreach (var group in groups)
        {
            _groups.Attach(group.Group, connection, group.Position, group.Referenced);
        }

        var held = _connections.CloseWindow(window);
        foreach (var entry in held.Entries)
        {
            connection.Deliver(entry);
        }

        if (held.Kick.Closes(connection.Epoch))
        {
            // Another claim won while this one was being set up; its kick came before the socket was registered.
            LocalConnections.Close(connection, held.Kick.CloseCode);
        }

        return connection;
    }

    /// <summary>
    /// Opens the upgraded socket as this node's connection for the admitted client (see <see cref="Open"/>) and runs
    /// it until it ends. The connection is open, and its synchronous start run, before this returns its task.
    /// </summary>
    public Task RunAsync(AdmittedConnect admission, WebSocket socket, HeartbeatStream heartbeat) =>
        Open(admission, socket, heartbeat).RunAsync();

    /// <summary>A connection is over: out of the map, counted, and its claim and connection slot released.</summary>
    private async Task EndedAsync(ClientConnection connection)
    {
        _connections.Remove(connection);
        foreach (var group in connection.StopAllGroups())
        {
            _groups.Detach(group, connection);
        }

        WsMetrics.Disconnects.Add(1, new KeyValuePair<string, object?>("close_code", connection.EndReason));
        ConnectionLog.Disconnected(_logger, connection.ClientId, connection.EndReason);
        try
        {
            // Fenced by epoch: after a takeover this is a no-op and the new owner keeps the session.
            await _releases.ReleaseAsync(connection.ClientId, connection.Epoch);
        }
        finally
        {
            Interlocked.Decrement(ref _active);
        }
    }

    private bool IsOriginAllowed(string? origin) =>
        string.IsNullOrEmpty(origin)
        || _options.AllowedOrigins.Count == 0
        || _options.AllowedOrigins.Contains(origin, StringComparer.OrdinalIgnoreCase);

    /// <summary>Answers a connect with problem+json, logged and counted as a refusal.</summary>
    public Task RefuseAsync(HttpContext http, int statusCode, string reason)
    {
        ConnectionLog.Refused(_logger, statusCode, reason);
        WsMetrics.Refusals.Add(1, new KeyValuePair<string, object?>("status", statusCode));
        return TypedResults.Problem(statusCode: statusCode, title: reason).ExecuteAsync(http);
    }

    private static PartitionedRateLimiter<string> CreateConnectLimiter(int perSecond) =>
        PartitionedRateLimiter.Create<string, string>(address => RateLimitPartition.GetTokenBucketLimiter(
            address,
            _ => new TokenBucketRateLimiterOptions
            {
                TokenLimit = perSecond,
                TokensPerPeriod = perSecond,
                ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                QueueLimit = 0,
                AutoReplenishment = true,
            }));

    public void Dispose() => _connectLimiter?.Dispose();
}
