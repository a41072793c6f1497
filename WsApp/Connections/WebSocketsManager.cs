using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ServerlessWs.App.Auth;
using ServerlessWs.App.Heartbeat;
using ServerlessWs.Core.Options;
using ServerlessWs.Core.Protocol;
using ServerlessWs.Core.Routing;
using ServerlessWs.Core.Sessions;
using ServerlessWs.Core.Telemetry;

namespace ServerlessWs.App.Connections;

/// <summary>
/// Accepts WebSocket clients on <c>/ws</c>, keeps the local map of clientId → connection, and takes this node's
/// commands from the bus (deliver, kick). Ownership itself lives in the <see cref="ISessionStore"/>; this map only
/// says which sockets this node holds.
/// </summary>
internal sealed partial class WebSocketsManager : INodeInbox, IHostedLifecycleService, IDisposable
{
    private readonly ConcurrentDictionary<string, ClientConnection> _connections = new(StringComparer.Ordinal);
    private readonly PendingClaims _pending = new();

    // Releases the store could not take (it was unreachable): clientId → epoch, retried when it comes back.
    private readonly ConcurrentDictionary<string, long> _pendingReleases = new(StringComparer.Ordinal);
    private readonly ISessionStore _store;
    private readonly INodeBus _bus;
    private readonly WsOptions _options;
    private readonly ConnectionContext _context;
    private readonly ILogger<WebSocketsManager> _logger;
    private readonly ClientAuthentication _auth;
    private readonly LocalGroups _groups;

    // System.Threading.RateLimiting directly (the library ASP.NET Core's rate limiting middleware is built on),
    // not the middleware: the contract answers 403 for a bad origin before 429, and middleware would run first.
    private readonly PartitionedRateLimiter<string>? _connectLimiter;
    private IAsyncDisposable? _subscription;
    private ITimer? _heartbeatTimer;
    private IDisposable? _connectionsGauge;
    private int _active;
    private volatile bool _draining;

    public WebSocketsManager(
        ISessionStore store,
        INodeBus bus,
        MessageRouter router,
        Upstream.UpstreamInvoker upstream,
        IOptions<WsOptions> options,
        TimeProvider time,
        ClientAuthentication auth,
        ILogger<WebSocketsManager> logger)
    {
        _auth = auth;
        _store = store;
        _bus = bus;
        _options = options.Value;
        _logger = logger;
        // The map enumerated without its locks: a fan-out to every socket does not hold up connects meanwhile.
        _groups = new LocalGroups(store, bus, () => _connections.Select(c => c.Value), logger);
        var outboxes = new OutboxMeter(_options.NodeOutboxBytes, () => _connections.Values, time);
        _context = new ConnectionContext(_options, store, router, time, logger, _groups, upstream, outboxes, EndedAsync);
        if (_options.ConnectsPerSecondPerAddress > 0)
        {
            _connectLimiter = CreateConnectLimiter(_options.ConnectsPerSecondPerAddress);
        }
    }

    public string ServerId => _options.ServerId;

    /// <summary>Sockets this node holds now.</summary>
    public int ConnectionCount => _connections.Count;

    public bool IsDraining => _draining;

    /// <summary>Client ids with a connect between its claim and its registration here (for tests).</summary>
    internal int PendingClaimCount => _pending.Count;

    /// <summary>Bytes waiting in this node's outboxes.</summary>
    internal long OutboxBytes => _context.Outboxes.Bytes;

    /// <summary>Groups this node hears now, the broadcast group included.</summary>
    internal int LocalGroupCount => _groups.Count;

    /// <summary>
    /// Handles <c>GET /ws</c> that reaches the HTTP pipeline (a later request on a keep-alive connection, HTTP/2):
    /// the first request of a connection is served by <see cref="Upgrade.WebSocketFastPath"/>. Both paths run
    /// <see cref="AdmitAsync"/> and <see cref="Open"/>, then run the connection; only the handshake differs.
    /// </summary>
    public async Task HandleAsync(HttpContext http)
    {
        // RFC 9110 §7.8: a server ignores Upgrade in an HTTP/1.0 request, which Kestrel does not do for us.
        if (!http.WebSockets.IsWebSocketRequest || HttpProtocol.IsHttp10(http.Request.Protocol))
        {
            await RefuseAsync(http, StatusCodes.Status400BadRequest, "A WebSocket upgrade request is required.");
            return;
        }

        if (await AdmitAsync(http) is not { } admission)
        {
            return;
        }

        WebSocket socket;
        HeartbeatStream heartbeat;
        try
        {
            // Keep-alive is off here: the heartbeat sweep pings and counts pongs itself (see HeartbeatStream).
            socket = await http.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext { KeepAliveInterval = TimeSpan.Zero });
            heartbeat = http.GetHeartbeatStream()
                ?? throw new InvalidOperationException("UseHeartbeatStreams must run before UseWebSockets.");
        }
        catch
        {
            // The claim is given back whatever failed: the client got no 101, or a socket nobody will serve.
            await AbandonAsync(admission);
            throw;
        }

        await Open(admission, socket, heartbeat).RunAsync();
    }

    /// <summary>
    /// Everything before the upgrade: every refusal is plain HTTP written to <paramref name="http"/> and changes no
    /// state, in the contract's order: 503 (draining or full), 403 (origin), 429 (rate), 400 (malformed), 401
    /// (access_token, then resumeToken). A non-null result holds a claim and a connection slot: the caller must pass
    /// it to <see cref="Open"/> once upgraded (or to <see cref="AbandonAsync"/>), and must not keep
    /// <paramref name="http"/> for longer than this call.
    /// </summary>
    internal async Task<Admission?> AdmitAsync(HttpContext http)
    {
        // Counted before any await so concurrent connects cannot overshoot Ws:MaxConnections.
        var active = Interlocked.Increment(ref _active);
        Admission? admission = null;
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
    internal async Task AbandonAsync(Admission admission)
    {
        _pending.Close(admission.Window);
        foreach (var group in admission.Groups.Where(g => g.Referenced))
        {
            _groups.Release(group.Group);
        }

        try
        {
            await ReleaseAsync(admission.ClientId, admission.Claim.Epoch);
        }
        finally
        {
            Interlocked.Decrement(ref _active);
        }
    }

    private async Task<ConnectRequest?> TryRefuseAsync(HttpContext http, int active)
    {
        if (_draining)
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

        var (request, status, refusal) = await _auth.AuthenticateAsync(http, parsed);
        if (request is null)
        {
            await RefuseAsync(http, status, refusal!);
        }

        return request;
    }

    private async Task<Admission?> ClaimAsync(HttpContext http, ConnectRequest request)
    {
        var clientId = request.ClientId ?? Identifiers.NewClientId();
        // Opened before the claim is sent: whatever rings for this id after the claim is held until Open.
        var window = _pending.Open(clientId);
        ClaimResult claim;
        try
        {
            claim = await _store.ClaimAsync(clientId, request.ResumeToken, request.LastSeq ?? 0, ServerId, http.RequestAborted);
        }
        catch (StoreUnavailableException e)
        {
            _pending.Close(window);
            ConnectionLog.StoreUnavailable(_logger, "claim", clientId, e);
            await RefuseAsync(http, StatusCodes.Status503ServiceUnavailable, "The coordination store cannot be reached; retry later.");
            return null;
        }
        catch
        {
            // Cancelled, or a bug (not an outage: it must not read as one): the window closes all the same.
            _pending.Close(window);
            throw;
        }

        if (claim.Status == ClaimStatus.Unauthorized)
        {
            _pending.Close(window);
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
            _pending.Close(window);
            await ReleaseAsync(clientId, claim.Epoch);
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
            _pending.Close(window);
            await ReleaseAsync(clientId, claim.Epoch);
            throw;
        }

        return new Admission(clientId, claim, request, window, groups);
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
    internal ClientConnection Open(Admission admission, WebSocket socket, HeartbeatStream heartbeat)
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
        Register(connection);
        foreach (var group in groups)
        {
            _groups.Attach(group.Group, connection, group.Position, group.Referenced);
        }

        var held = _pending.Close(window);
        foreach (var entry in held.Entries)
        {
            connection.Deliver(entry);
        }

        if (held.Kick.Closes(connection.Epoch))
        {
            // Another claim won while this one was being set up; its kick came before the socket was registered.
            Close(connection, held.Kick.CloseCode);
        }

        return connection;
    }

    /// <summary>A connection is over: out of the map, counted, and its claim and connection slot released.</summary>
    private async Task EndedAsync(ClientConnection connection)
    {
        _connections.TryRemove(KeyValuePair.Create(connection.ClientId, connection));
        foreach (var group in connection.StopAllGroups())
        {
            _groups.Detach(group, connection);
        }

        WsMetrics.Disconnects.Add(1, new KeyValuePair<string, object?>("close_code", connection.EndReason));
        ConnectionLog.Disconnected(_logger, connection.ClientId, connection.EndReason);
        try
        {
            // Fenced by epoch: after a takeover this is a no-op and the new owner keeps the session.
            await ReleaseAsync(connection.ClientId, connection.Epoch);
        }
        finally
        {
            Interlocked.Decrement(ref _active);
        }
    }

    /// <summary>Releases a claim; one the store cannot take now is kept and retried when the store comes back.</summary>
    private async Task ReleaseAsync(string clientId, long epoch)
    {
        try
        {
            await _store.ReleaseAsync(clientId, epoch, CancellationToken.None);
            _pendingReleases.TryRemove(KeyValuePair.Create(clientId, epoch));
        }
        catch (StoreUnavailableException e)
        {
            ConnectionLog.StoreUnavailable(_logger, "release", clientId, e);
            _pendingReleases[clientId] = epoch;
        }
    }

    /// <summary>
    /// After the store was unreachable: re-asserts the claim of every socket this node holds (one that lost to a
    /// newer claim closes with 4000; one whose entry was lost gets it back, with its groups, and seq restarting) and
    /// retries the releases that failed meanwhile.
    /// </summary>
    public async Task ReassertAllAsync()
    {
        foreach (var (_, connection) in _connections)
        {
            try
            {
                var outcome = await _store.ReassertAsync(connection.ClientId, ServerId, connection.Epoch, connection.TokenHash, CancellationToken.None);
                if (outcome == ReassertOutcome.Lost)
                {
                    connection.RequestClose(CloseCodes.TakenOver, "taken over");
                }
                else if (outcome == ReassertOutcome.Restored)
                {
                    connection.RestartSequence();
                    // The store lost the session's groups with it; the socket still knows them (membership belongs
                    // to the id, so it must outlive the loss as it outlives a resume).
                    foreach (var group in connection.JoinedGroups())
                    {
                        await _store.JoinAsync(connection.ClientId, group, CancellationToken.None);
                    }
                }
            }
            catch (StoreUnavailableException e)
            {
                // Still unreachable: the next restore event tries again.
                ConnectionLog.StoreUnavailable(_logger, "reassert", connection.ClientId, e);
                return;
            }
        }

        foreach (var (clientId, epoch) in _pendingReleases)
        {
            await ReleaseAsync(clientId, epoch);
        }
    }

    /// <summary>
    /// Puts the connection in the local map. Of two sockets for one id the newer epoch stays and the other is closed
    /// with 4000 here, whichever order they arrive in: the kick for the older one may come after the newer one has
    /// taken its place in the map, and would then find nothing to close.
    /// </summary>
    private void Register(ClientConnection connection)
    {
        while (true)
        {
            if (_connections.TryAdd(connection.ClientId, connection))
            {
                return;
            }

            if (!_connections.TryGetValue(connection.ClientId, out var existing))
            {
                continue;
            }

            if (existing.Epoch > connection.Epoch)
            {
                connection.RequestClose(CloseCodes.TakenOver, "taken over");
                return;
            }

            if (_connections.TryUpdate(connection.ClientId, connection, existing))
            {
                existing.RequestClose(CloseCodes.TakenOver, "taken over");
                return;
            }
        }
    }

    // The window before the map: a connect closes its window only after registering, so a doorbell or kick that
    // comes too late for the window finds the connection in the map.
    public void OnDeliver(string clientId, LogEntry entry)
    {
        _pending.Hold(clientId, entry);
        if (_connections.TryGetValue(clientId, out var connection))
        {
            connection.Deliver(entry);
        }
    }

    public void OnKick(string clientId, long maxEpoch, int closeCode)
    {
        _pending.HoldKick(clientId, maxEpoch, closeCode);
        if (_connections.TryGetValue(clientId, out var connection) && connection.Epoch <= maxEpoch)
        {
            Close(connection, closeCode);
        }
    }

    private static void Close(ClientConnection connection, int closeCode) =>
        connection.RequestClose(closeCode, closeCode == CloseCodes.TakenOver ? "taken over" : "closed by the server");

    private bool IsOriginAllowed(string? origin) =>
        string.IsNullOrEmpty(origin)
        || _options.AllowedOrigins.Count == 0
        || _options.AllowedOrigins.Contains(origin, StringComparer.OrdinalIgnoreCase);

    /// <summary>Answers a connect with problem+json, logged and counted as a refusal.</summary>
    internal Task RefuseAsync(HttpContext http, int statusCode, string reason)
    {
        ConnectionLog.Refused(_logger, statusCode, reason);
        WsMetrics.Refusals.Add(1, new KeyValuePair<string, object?>("status", statusCode));
        return TypedResults.Problem(statusCode: statusCode, title: reason).ExecuteAsync(http);
    }

    /// <summary>A connect that passed every check and holds its claim and its groups, waiting for its upgrade.</summary>
    internal sealed record Admission(string ClientId, ClaimResult Claim, ConnectRequest Request, PendingClaims.Window Window, PreparedGroup[] Groups);

    /// <summary>
    /// Where delivery of one of a connect's groups starts: the welcome says after <paramref name="StartsAfter"/>;
    /// <paramref name="Replay"/> is sent, and live delivery goes on after <paramref name="Position"/>.
    /// </summary>
    internal sealed record PreparedGroup(string Group, long StartsAfter, long Position, IReadOnlyList<LogEntry> Replay, bool Recovered)
    {
        /// <summary>Whether the connect holds a reference to the group (to be attached or released).</summary>
        public bool Referenced { get; init; } = true;
    }

    /// <summary>After the node could not hear Redis: each local socket reads its log past what it was sent (doorbells missed meanwhile).</summary>
    public void CatchUpClients()
    {
        foreach (var connection in _connections.Values)
        {
            connection.CatchUp();
        }
    }

    /// <summary>After a connection to the store came back: each group's doorbells missed meanwhile are read from its log.</summary>
    public Task CatchUpGroupsAsync(bool startOver) => _groups.CatchUpAsync(startOver);

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

    public void Dispose()
    {
        _connectionsGauge?.Dispose();
        _heartbeatTimer?.Dispose();
        _connectLimiter?.Dispose();
    }
}
