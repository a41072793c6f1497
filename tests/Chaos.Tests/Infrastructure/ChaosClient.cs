using System.Collections.Concurrent;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace ServerlessWs.Chaos.Tests.Infrastructure;

/// <summary>
/// A client that behaves as a well-made one does (as WsApp/wwwroot/serverlessws.js does): on any close but a takeover
/// it reconnects to a live node with its <c>resumeToken</c>, <c>lastSeq</c> and one <c>since=&lt;group&gt;:&lt;gseq&gt;</c>
/// per group it holds a position in (docs/protocol.md §5b), and takes each group's position from the welcome. It
/// keeps its own record of what it received: direct messages by sender and counter and by seq, group messages per
/// group by gseq and by sender and counter, so the test can count lost, duplicated and out-of-order messages of each
/// stream from the client's side.
/// </summary>
public sealed class ChaosClient : IAsyncDisposable
{
    private static readonly TimeSpan ReconnectDeadline = TimeSpan.FromSeconds(30);

    private readonly Func<NodeProcess> _pickNode;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource<string?>> _acks = new(StringComparer.Ordinal);
    // One frame at a time on a socket: a client may send direct and group messages from two loops at once.
    private readonly SemaphoreSlim _sending = new(1, 1);
    private readonly Lock _gate = new();
    // Under _gate: each group's position (the last gseq this client has, the broadcast group * included), the groups
    // it joined, and what it recorded of each group's stream.
    private readonly Dictionary<string, long> _positions = new(StringComparer.Ordinal);
    private readonly HashSet<string> _joined = new(StringComparer.Ordinal);
    private readonly Dictionary<string, GroupStream> _streams = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _highestFrom = new(StringComparer.Ordinal);
    private readonly HashSet<(string From, long N)> _seen = [];
    private readonly List<string> _closes = [];
    private TaskCompletionSource<ClientWebSocket> _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _loop = Task.CompletedTask;
    private string? _resumeToken;
    private long _lastSeq;

    private ChaosClient(string clientId, Func<NodeProcess> pickNode)
    {
        ClientId = clientId;
        _pickNode = pickNode;
    }

    public string ClientId { get; }

    /// <summary>The server of the current (or last) socket, from its welcome.</summary>
    public string? ServerId { get; private set; }

    public int Connects { get; private set; }

    /// <summary>Welcomes with <c>recovered: false</c> or a resume that came back <c>resumed: false</c>.</summary>
    public int NotRecovered { get; private set; }

    /// <summary>Message frames whose seq was not the last seq + 1 (a gap, or a seq seen before).</summary>
    public int SeqBreaks { get; private set; }

    public long Received { get; private set; }

    public long Duplicated { get; private set; }

    public long OutOfOrder { get; private set; }

    /// <summary>Welcomes whose <c>groups</c> lacked a group this client joined: a membership the session lost.</summary>
    public int MissingGroups { get; private set; }

    /// <summary>Message frames with neither <c>seq</c> (direct) nor <c>group</c> and <c>gseq</c> (docs/protocol.md §2).</summary>
    public int Malformed { get; private set; }

    /// <summary>The groups this client joined (join acked <c>ok</c>).</summary>
    public IReadOnlyList<string> Groups
    {
        get
        {
            lock (_gate)
            {
                return [.. _joined];
            }
        }
    }

    /// <summary>Set when the client gave up: a close it must not retry (4000, 4001), or no node took it in time.</summary>
    public string? Failure { get; private set; }

    public bool IsOpen => _open.Task is { IsCompletedSuccessfully: true } open && open.Result.State == WebSocketState.Open;

    /// <summary>How each socket ended: the close code, or "abort" when the connection just broke.</summary>
    public IReadOnlyList<string> Closes
    {
        get
        {
            lock (_gate)
            {
                return [.. _closes];
            }
        }
    }

    public static async Task<ChaosClient> ConnectAsync(string clientId, Func<NodeProcess> pickNode)
    {
        var client = new ChaosClient(clientId, pickNode);
        var socket = await client.ConnectOnceAsync();
        client._loop = client.RunAsync(socket);
        return client;
    }

    /// <summary>Whether the message (<paramref name="from"/>, <paramref name="n"/>) was received.</summary>
    public bool Got(string from, long n)
    {
        lock (_gate)
        {
            return _seen.Contains((from, n));
        }
    }

    /// <summary>The gseq at which the group message (<paramref name="from"/>, <paramref name="n"/>) of <paramref name="group"/> was received, or null.</summary>
    public long? GroupGseq(string group, string from, long n)
    {
        lock (_gate)
        {
            return _streams.TryGetValue(group, out var stream) && stream.Got.TryGetValue((from, n), out var gseq) ? gseq : null;
        }
    }

    /// <summary>
    /// The gseqs of <paramref name="group"/> this client's stream jumped over. The sender of a group message never
    /// gets it (docs/protocol.md §5b), so a member that sends sees its own messages as jumps; any other jump is a
    /// hole the welcome did not own up to.
    /// </summary>
    public IReadOnlyList<long> SkippedGseqs(string group)
    {
        lock (_gate)
        {
            return _streams.TryGetValue(group, out var stream) ? [.. stream.Skipped] : [];
        }
    }

    /// <summary>The gseqs at which this client recorded messages of <paramref name="group"/> from <paramref name="from"/>.</summary>
    public IReadOnlyList<long> GseqsFrom(string group, string from)
    {
        lock (_gate)
        {
            return _streams.TryGetValue(group, out var stream) ? [.. stream.Got.Where(g => g.Key.From == from).Select(g => g.Value)] : [];
        }
    }

    /// <summary>What this client recorded of <paramref name="group"/>'s stream (zeros when it got nothing of it).</summary>
    public GroupStreamFigures GroupFigures(string group)
    {
        lock (_gate)
        {
            return _streams.TryGetValue(group, out var s)
                ? new GroupStreamFigures(s.Received, s.Duplicated, s.OutOfOrder, s.GseqBreaks, s.NotRecovered, s.Unexpected, s.OwnEchoes)
                : new GroupStreamFigures(0, 0, 0, 0, 0, 0, 0);
        }
    }

    /// <summary>Every group this client recorded anything of (joined, in a welcome, or in a message).</summary>
    public IReadOnlyList<string> RecordedGroups
    {
        get
        {
            lock (_gate)
            {
                return [.. _streams.Keys];
            }
        }
    }

    /// <summary>
    /// Sends <c>{"n": n}</c> to <paramref name="to"/> and waits for the ack. Returns its status, or null when the
    /// send is in doubt (the socket broke, or the store answered <c>unavailable</c>): it may or may not be in the log.
    /// </summary>
    public Task<string?> SendAsync(string to, long n, TimeSpan timeout)
    {
        var id = n.ToString(CultureInfo.InvariantCulture);
        return RequestAsync(id, $$$"""{"type":"send","to":"{{{to}}}","id":"{{{id}}}","data":{"n":{{{id}}}}}""", timeout);
    }

    /// <summary>
    /// Sends <c>{"n": n}</c> to <paramref name="group"/> and waits for the ack: <c>delivered</c> once the group's log
    /// holds it (docs/protocol.md §5b), or null when in doubt, as for <see cref="SendAsync"/>.
    /// </summary>
    public Task<string?> SendToGroupAsync(string group, long n, TimeSpan timeout)
    {
        var number = n.ToString(CultureInfo.InvariantCulture);
        var id = $"g:{group}:{number}";
        return RequestAsync(id, $$$"""{"type":"send","group":"{{{group}}}","id":"{{{id}}}","data":{"n":{{{number}}}}}""", timeout);
    }

    /// <summary>
    /// Sends the upstream event <c>chaos</c> with data <c>{"c": clientId, "n": n}</c> and waits for the ack:
    /// <c>accepted</c> once stored (docs/protocol.md §7), or null when in doubt, as for <see cref="SendAsync"/>.
    /// </summary>
    public Task<string?> EmitAsync(long n, TimeSpan timeout)
    {
        var number = n.ToString(CultureInfo.InvariantCulture);
        var id = "e:" + number;
        return RequestAsync(id, $$$"""{"type":"event","event":"chaos","id":"{{{id}}}","data":{"c":"{{{ClientId}}}","n":{{{number}}}}}""", timeout);
    }

    /// <summary>
    /// Joins <paramref name="group"/>; the position it starts from is the ack's gseq, taken as the ack is read, before
    /// any later frame. Throws when the join is not acked <c>ok</c> within <paramref name="timeout"/>.
    /// </summary>
    public async Task JoinAsync(string group, TimeSpan timeout)
    {
        var status = await RequestAsync($"join:{group}", $$"""{"type":"join","group":"{{group}}","id":"join:{{group}}"}""", timeout);
        if (status != "ok")
        {
            throw new InvalidOperationException($"{ClientId}: join {group} answered {status ?? "nothing"}");
        }

        lock (_gate)
        {
            if (!_joined.Contains(group))
            {
                throw new InvalidOperationException($"{ClientId}: join {group} acked without a gseq");
            }
        }
    }

    /// <summary>Closes the socket normally and stops reconnecting.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        // Read once: the receive loop replaces _open when a socket ends.
        if (_open.Task is { IsCompletedSuccessfully: true } open)
        {
            open.Result.Abort();
        }

        await _loop.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
        _sending.Dispose();
    }

    /// <summary>Sends one frame with an <paramref name="id"/> and waits for its ack's status; null when in doubt.</summary>
    private async Task<string?> RequestAsync(string id, string text, TimeSpan timeout)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        deadline.CancelAfter(timeout);
        var ack = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        _acks[id] = ack;
        var locked = false;
        try
        {
            var socket = await _open.Task.WaitAsync(deadline.Token);
            await _sending.WaitAsync(deadline.Token);
            locked = true;
            await socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true, deadline.Token);
            _sending.Release();
            locked = false;
            return await ack.Task.WaitAsync(deadline.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
            return null;
        }
        finally
        {
            if (locked)
            {
                _sending.Release();
            }

            _acks.TryRemove(id, out _);
        }
    }

    private async Task RunAsync(ClientWebSocket socket)
    {
        while (!_stop.IsCancellationRequested)
        {
            var close = await ReceiveUntilClosedAsync(socket);
            _open = new TaskCompletionSource<ClientWebSocket>(TaskCreationOptions.RunContinuationsAsynchronously);
            foreach (var ack in _acks.Values)
            {
                ack.TrySetResult(null);
            }

            socket.Dispose();
            if (_stop.IsCancellationRequested)
            {
                return;
            }

            lock (_gate)
            {
                _closes.Add(close);
            }

            if (close is "4000" or "4001")
            {
                Failure = $"closed with {close}";
                return;
            }

            try
            {
                socket = await ConnectOnceAsync();
            }
            catch (Exception e) when (e is not OperationCanceledException || !_stop.IsCancellationRequested)
            {
                Failure = $"no node took the client back: {e.Message}";
                return;
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Connects (resuming when it has a token), trying live nodes with a short backoff until the deadline.</summary>
    private async Task<ClientWebSocket> ConnectOnceAsync()
    {
        var deadline = DateTime.UtcNow + ReconnectDeadline;
        for (var attempt = 0; ; attempt++)
        {
            var node = _pickNode();
            var query = _resumeToken is null
                ? $"clientId={ClientId}"
                : $"clientId={ClientId}&resumeToken={_resumeToken}&lastSeq={_lastSeq}{SinceQuery()}";
            var socket = new ClientWebSocket();
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                timeout.CancelAfter(TimeSpan.FromSeconds(10));
                await socket.ConnectAsync(node.WsUri(query), timeout.Token);
                await ReadWelcomeAsync(socket, timeout.Token);
                Connects++;
                _open.TrySetResult(socket);
                return socket;
            }
            catch (Exception) when (DateTime.UtcNow < deadline && !_stop.IsCancellationRequested)
            {
                socket.Dispose();
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(1000, 50 << Math.Min(attempt, 4)) * Random.Shared.NextDouble()));
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
    }

    private async Task ReadWelcomeAsync(ClientWebSocket socket, CancellationToken cancellationToken)
    {
        var welcome = await ReceiveFrameAsync(socket, new byte[64 * 1024], cancellationToken)
            ?? throw new WebSocketException("closed before the welcome");
        var root = welcome.RootElement;
        if (root.GetProperty("type").GetString() != "welcome")
        {
            throw new InvalidOperationException($"first frame was not a welcome: {root}");
        }

        var resuming = _resumeToken is not null;
        if (!root.GetProperty("recovered").GetBoolean() || (resuming && !root.GetProperty("resumed").GetBoolean()))
        {
            NotRecovered++;
        }

        ReadWelcomeGroups(root, resuming);
        _resumeToken = root.GetProperty("resumeToken").GetString();
        ServerId = root.GetProperty("serverId").GetString();
    }

    /// <summary>One <c>since=&lt;group&gt;:&lt;gseq&gt;</c> per group this client holds a position in.</summary>
    private string SinceQuery()
    {
        lock (_gate)
        {
            return string.Concat(_positions.Select(p => string.Create(CultureInfo.InvariantCulture, $"&since={Uri.EscapeDataString(p.Key)}:{p.Value}")));
        }
    }

    /// <summary>
    /// The welcome's <c>groups</c> (docs/protocol.md §5b): every group this client joined must be there; a group with
    /// <c>recovered: false</c> is counted as not recovered; on a resume a recovered group must start exactly where
    /// this client's position was (otherwise a hole or a repeat the welcome does not own up to). Each group's
    /// position becomes the welcome's gseq, as the browser client does.
    /// </summary>
    private void ReadWelcomeGroups(JsonElement welcome, bool resuming)
    {
        lock (_gate)
        {
            if (!welcome.TryGetProperty("groups", out var groups) || groups.ValueKind != JsonValueKind.Object)
            {
                MissingGroups += Math.Max(1, _joined.Count);
                return;
            }

            foreach (var group in _joined.Where(g => !groups.TryGetProperty(g, out _)))
            {
                MissingGroups++;
                Stream(group).NotRecovered++;
            }

            foreach (var entry in groups.EnumerateObject())
            {
                var gseq = entry.Value.GetProperty("gseq").GetInt64();
                var stream = Stream(entry.Name);
                var recovered = entry.Value.GetProperty("recovered").GetBoolean();
                if (!recovered)
                {
                    stream.NotRecovered++;
                }
                else if (resuming && _positions.TryGetValue(entry.Name, out var position) && position != gseq)
                {
                    stream.GseqBreaks++;
                }

                _positions[entry.Name] = gseq;
            }
        }
    }

    private GroupStream Stream(string group)
    {
        if (!_streams.TryGetValue(group, out var stream))
        {
            _streams[group] = stream = new GroupStream();
        }

        return stream;
    }

    private async Task<string> ReceiveUntilClosedAsync(ClientWebSocket socket)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                using var frame = await ReceiveFrameAsync(socket, buffer, _stop.Token);
                if (frame is null)
                {
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
                    return ((int?)socket.CloseStatus)?.ToString(CultureInfo.InvariantCulture) ?? "none";
                }

                Handle(frame.RootElement);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
        {
            return "abort";
        }
    }

    private void Handle(JsonElement frame)
    {
        switch (frame.GetProperty("type").GetString())
        {
            case "message":
                Record(frame);
                break;
            case "ack":
                if (frame.TryGetProperty("group", out var joined) && frame.TryGetProperty("gseq", out var from))
                {
                    // A join's ack: delivery starts after its gseq. Taken here, in the socket's frame order, so a
                    // message right behind the ack finds the position. A member already keeps its own.
                    lock (_gate)
                    {
                        var group = joined.GetString()!;
                        _joined.Add(group);
                        _positions.TryAdd(group, from.GetInt64());
                        Stream(group);
                    }
                }

                if (_acks.TryGetValue(frame.GetProperty("id").GetString()!, out var ack))
                {
                    ack.TrySetResult(frame.GetProperty("status").GetString());
                }

                break;
            case "error" when frame.TryGetProperty("id", out var id):
                if (_acks.TryGetValue(id.GetString()!, out var failed))
                {
                    failed.TrySetResult(null);
                }

                break;
        }
    }

    private void Record(JsonElement message)
    {
        if (message.TryGetProperty("group", out var group) && message.TryGetProperty("gseq", out var gseq) && !message.TryGetProperty("seq", out _))
        {
            RecordGroup(group.GetString()!, gseq.GetInt64(), message);
            return;
        }

        if (!message.TryGetProperty("seq", out _) || message.TryGetProperty("group", out _) || message.TryGetProperty("gseq", out _))
        {
            lock (_gate)
            {
                Malformed++;
            }

            return;
        }

        var seq = message.GetProperty("seq").GetInt64();
        var from = message.GetProperty("from").GetString()!;
        var n = message.GetProperty("data").GetProperty("n").GetInt64();
        lock (_gate)
        {
            if (seq != _lastSeq + 1)
            {
                SeqBreaks++;
            }

            _lastSeq = Math.Max(_lastSeq, seq);
            Received++;
            if (!_seen.Add((from, n)))
            {
                Duplicated++;
            }

            if (_highestFrom.TryGetValue(from, out var highest) && n < highest)
            {
                OutOfOrder++;
            }

            _highestFrom[from] = Math.Max(highest, n);
        }
    }

    /// <summary>
    /// A group message: per group, gseq must follow the position (a repeat is a break; a jump is noted, see
    /// <see cref="SkippedGseqs"/>), strictly increasing
    /// (else out of order), never seen before by gseq or by sender and counter (else duplicated); a group this client
    /// holds no position in is unexpected; its own message coming back is an echo (the sender never gets its own).
    /// </summary>
    private void RecordGroup(string group, long gseq, JsonElement message)
    {
        var from = message.GetProperty("from").GetString()!;
        long? n = message.GetProperty("data") is { ValueKind: JsonValueKind.Object } data && data.TryGetProperty("n", out var number) ? number.GetInt64() : null;
        lock (_gate)
        {
            var stream = Stream(group);
            stream.Received++;
            if (from == ClientId)
            {
                stream.OwnEchoes++;
            }

            if (!_positions.TryGetValue(group, out var position))
            {
                stream.Unexpected++;
            }
            else if (gseq <= position)
            {
                stream.GseqBreaks++;
            }
            else if (gseq > position + 1)
            {
                // A jump: allowed only over this client's own messages (a member sender never gets its own), which
                // the tally checks against the gseqs the other members got them at. Kept bounded.
                for (var skipped = position + 1; skipped < gseq; skipped++)
                {
                    if (stream.Skipped.Count >= GroupStream.SkippedLimit)
                    {
                        stream.GseqBreaks++;
                        break;
                    }

                    stream.Skipped.Add(skipped);
                }
            }

            var seenGseq = !stream.Gseqs.Add(gseq);
            var seenMessage = n is { } k && !stream.Got.TryAdd((from, k), gseq);
            if (seenGseq || seenMessage)
            {
                stream.Duplicated++;
            }

            if (gseq <= stream.Highest)
            {
                stream.OutOfOrder++;
            }

            stream.Highest = Math.Max(stream.Highest, gseq);
            _positions[group] = Math.Max(position, gseq);
        }
    }

    private static async Task<JsonDocument?> ReceiveFrameAsync(ClientWebSocket socket, byte[] buffer, CancellationToken cancellationToken)
    {
        var length = 0;
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer.AsMemory(length), cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return null;
            }

            length += result.Count;
            if (result.EndOfMessage)
            {
                return JsonDocument.Parse(buffer.AsMemory(0, length));
            }
        }
    }
}

/// <summary>What one client recorded of one group's stream; every figure but <see cref="Received"/> must be 0.</summary>
public sealed record GroupStreamFigures(long Received, long Duplicated, long OutOfOrder, long GseqBreaks, long NotRecovered, long Unexpected, long OwnEchoes);

/// <summary>One client's record of one group's stream (under the client's lock).</summary>
internal sealed class GroupStream
{
    public const int SkippedLimit = 100_000;

    /// <summary>The gseqs the stream jumped over (see <see cref="ChaosClient.SkippedGseqs"/>).</summary>
    public List<long> Skipped { get; } = [];

    public HashSet<long> Gseqs { get; } = [];

    /// <summary>By sender and counter: the gseq it came with.</summary>
    public Dictionary<(string From, long N), long> Got { get; } = [];

    public long Highest { get; set; }

    public long Received { get; set; }

    public long Duplicated { get; set; }

    public long OutOfOrder { get; set; }

    /// <summary>A gseq at or below the position, or a resume whose welcome moved a recovered group's position (jumps are in <see cref="Skipped"/>).</summary>
    public long GseqBreaks { get; set; }

    /// <summary>Welcomes that said <c>recovered: false</c> for this group, or left it out though it was joined.</summary>
    public long NotRecovered { get; set; }

    /// <summary>Messages of a group this client holds no position in.</summary>
    public long Unexpected { get; set; }

    /// <summary>This client's own group messages coming back to it (docs/protocol.md §5b: the sender never gets them).</summary>
    public long OwnEchoes { get; set; }
}
