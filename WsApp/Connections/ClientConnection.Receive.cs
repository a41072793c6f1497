using System.Buffers;
using System.Net.WebSockets;
using System.Text.Unicode;
using ServerlessWs.App.Heartbeat;
using ServerlessWs.Core.Protocol;
using ServerlessWs.Core.Routing;
using ServerlessWs.Core.Sessions;
using ServerlessWs.Core.Upstream;

namespace ServerlessWs.App.Connections;

internal sealed partial class ClientConnection
{
    /// <summary>
    /// The receive loop, then the end of the connection: the sends finish (with a close frame if the socket still
    /// allows one), the socket closes, and the node forgets the connection and releases its claim.
    /// </summary>
    private async Task ReceiveAsync()
    {
        try
        {
            try
            {
                while (_socket.State == WebSocketState.Open && _closeCode < 0)
                {
                    // Zero-byte read: an idle connection holds no receive buffer, only the socket.
                    var peek = await _socket.ReceiveAsync(Memory<byte>.Empty, CancellationToken.None);
                    if (peek.MessageType == WebSocketMessageType.Close)
                    {
                        _peerCloseCode = (int?)_socket.CloseStatus ?? CloseCodes.Normal;
                        return;
                    }

                    // An empty message is consumed whole by the peek, so a binary one must be refused here: the read
                    // below would already be waiting for the next message.
                    if (peek.MessageType == WebSocketMessageType.Binary)
                    {
                        ClosePolicy(CloseCodes.PolicyViolation, "binary frames are not accepted");
                        break;
                    }

                    // An empty text message is consumed whole by the peek.
                    var handled = peek is { MessageType: WebSocketMessageType.Text, EndOfMessage: true }
                        ? await HandleMessageAsync(ReadOnlyMemory<byte>.Empty)
                        : await ReceiveMessageAsync();
                    if (!handled)
                    {
                        break;
                    }
                }

                await AwaitPeerCloseAsync();
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
            {
                if (_closeCode < 0)
                {
                    ConnectionLog.ConnectionError(_context.Logger, ClientId, e);
                }
            }
            catch (Exception e)
            {
                // Nobody waits on this task (the fast path starts it and returns): the error is logged here, and the
                // client is told the server failed rather than that all went well.
                ConnectionLog.UnexpectedError(_context.Logger, ClientId, e);
                RequestClose(CloseCodes.InternalError, "internal error");
            }
        }
        finally
        {
            // Whatever ended the reads, the sends must end too.
            RequestClose(_peerCloseCode >= 0 ? _peerCloseCode : CloseCodes.Normal, string.Empty);
            await PumpFinishedAsync();
            if (_socket.State != WebSocketState.Closed)
            {
                _socket.Abort();
            }

            _socket.Dispose();
            await _context.Ended(this);
        }
    }

    /// <summary>
    /// After this side asked to close, reads and discards until the peer's close frame, so the close handshake
    /// completes and the peer sees our close code rather than a reset. The abort timer bounds the wait.
    /// </summary>
    private async Task AwaitPeerCloseAsync()
    {
        if (_closeCode < 0 || _socket.State is not (WebSocketState.Open or WebSocketState.CloseSent))
        {
            return;
        }

        var scratch = ArrayPool<byte>.Shared.Rent(InitialReceiveBufferBytes);
        try
        {
            while (_socket.State is WebSocketState.Open or WebSocketState.CloseSent)
            {
                var result = await _socket.ReceiveAsync(scratch.AsMemory(), CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    /// <summary>Reads one whole message (fragments reassembled) and handles it; false when the connection must end.</summary>
    private async Task<bool> ReceiveMessageAsync()
    {
        var max = _context.Options.MaxMessageBytes;
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Min(InitialReceiveBufferBytes, max + 1));
        try
        {
            var count = 0;
            while (true)
            {
                if (count == buffer.Length)
                {
                    // Grow up to one byte past the limit: that byte is how an oversized message is detected.
                    var larger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, max + 1));
                    buffer.AsSpan(0, count).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                var result = await _socket.ReceiveAsync(buffer.AsMemory(count, Math.Min(buffer.Length, max + 1) - count), CancellationToken.None);
                switch (result.MessageType)
                {
                    case WebSocketMessageType.Close:
                        _peerCloseCode = (int?)_socket.CloseStatus ?? CloseCodes.Normal;
                        return false;
                    case WebSocketMessageType.Binary:
                        ClosePolicy(CloseCodes.PolicyViolation, "binary frames are not accepted");
                        return false;
                }

                count += result.Count;
                if (count > max)
                {
                    ClosePolicy(CloseCodes.MessageTooBig, "message too big");
                    return false;
                }

                if (result.EndOfMessage)
                {
                    // The WebSocket layer checks UTF-8 frame by frame, but lets a message end in the middle of a
                    // character when its last fragment is empty; the whole message is checked here.
                    if (!Utf8.IsValid(buffer.AsSpan(0, count)))
                    {
                        ClosePolicy(CloseCodes.InvalidPayload, "text is not valid UTF-8");
                        return false;
                    }

                    return await HandleMessageAsync(buffer.AsMemory(0, count));
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task<bool> HandleMessageAsync(ReadOnlyMemory<byte> message)
    {
        if (_closeCode >= 0)
        {
            // Closing: frames that arrive before the peer's close reply are not acted on.
            return false;
        }

        if (!_budget.TryCharge())
        {
            // Dropped unparsed, but for the first of each second, which is answered (with its id): a flood must not
            // cost a parse and an error frame per frame (docs/protocol.md §5a).
            return !_budget.ShouldReport()
                || await SendErrorAsync(ErrorCodes.RateLimited, "Too many frames; frames are dropped until the rate falls.", ClientFrameParser.Parse(message).Id);
        }

        var parsed = ClientFrameParser.Parse(message);

        if (parsed.Frame is not { } frame)
        {
            if (!await SendErrorAsync(parsed.ErrorCode!, parsed.ErrorMessage!, parsed.Id))
            {
                return false;
            }

            if ((_badFrames ??= new BadFrameWindow(_context.Time)).RecordAndCheckExceeded())
            {
                ClosePolicy(CloseCodes.PolicyViolation, "too many bad frames");
                return false;
            }

            return true;
        }

        // Copied out of the pooled receive buffer: replies are written after it is returned.
        var id = frame.Id.ToArray();
        try
        {
            switch (frame.Type)
            {
                case ClientFrameType.Ping:
                    return await ReplyAsync(id, static (output, id) => ServerFrames.WritePong(output, id));
                case ClientFrameType.Send:
                    var budget = _sendBudget ??= new SendBudget(_context.Options.SendBytesPerSecond, _context.Time.GetTimestamp());
                    if (!budget.HasRoom(_context.Time))
                    {
                        return await SendErrorAsync(ErrorCodes.RateLimited, "This connection's send budget (Ws:SendBytesPerSecond) is spent; this send was dropped.", id);
                    }

                    SendOutcome outcome;
                    if (frame.To is not null)
                    {
                        outcome = await _context.Router.SendAsync(ClientId, frame.To, frame.Data.ToArray(), CancellationToken.None);
                        budget.Charge(frame.Data.Length, 1);
                    }
                    else
                    {
                        var sent = await _context.Router.SendToGroupAsync(ClientId, frame.Group!, frame.Data.ToArray(), CancellationToken.None);
                        budget.Charge(frame.Data.Length, sent.Recipients);
                        outcome = sent.Outcome;
                    }

                    return await AckAsync(id, outcome.ToAckStatus());
                case ClientFrameType.Join:
                    return await JoinAsync(frame.Group!, id);
                case ClientFrameType.Invoke:
                    return await InvokeAsync(frame.Event!, frame.Data.ToArray(), id);
                case ClientFrameType.Event:
                    return await EventAsync(frame.Event!, frame.Data, id);
                default:
                    await _context.Store.LeaveAsync(ClientId, frame.Group!, CancellationToken.None);
                    if (StopGroup(frame.Group!))
                    {
                        _context.Groups.Detach(frame.Group!, this);
                    }

                    return await AckAsync(id, AckStatus.Ok);
            }
        }
        catch (StoreUnavailableException e)
        {
            // The store is unreachable: the socket stays open and the client is told to retry (docs/design.md invariant 4).
            // Anything else is a bug, not an outage: it ends the connection with 1011 (the receive loop's handler).
            ConnectionLog.StoreUnavailable(_context.Logger, frame.Type.ToString(), ClientId, e);
            return await SendErrorAsync(ErrorCodes.Unavailable, "The coordination store cannot be reached; retry later.", id);
        }
    }

    /// <summary>
    /// A join (docs/protocol.md §5b): the node hears the group before the join reads its gseq, so every message after
    /// that gseq reaches this socket; the ack carries it.
    /// </summary>
    private async Task<bool> JoinAsync(string group, byte[] id)
    {
        await _context.Groups.AcquireAsync(group);
        GroupJoin joined;
        try
        {
            joined = await _context.Store.JoinAsync(ClientId, group, CancellationToken.None);
        }
        catch
        {
            _context.Groups.Release(group);
            throw;
        }

        if (joined.Status != GroupJoinStatus.Joined)
        {
            _context.Groups.Release(group);
            return await SendErrorAsync(
                ErrorCodes.NotAllowed,
                joined.Status switch
                {
                    GroupJoinStatus.TooManyGroups => $"A client may be in at most {_context.Options.MaxGroupsPerClient} groups.",
                    GroupJoinStatus.GroupFull => $"A group may have at most {_context.Options.MaxMembersPerGroup} members.",
                    _ => "The session is no longer known; reconnect.",
                },
                id);
        }

        if (StartGroup(group, joined.Gseq))
        {
            _context.Groups.Attach(group, this, joined.Gseq);
        }
        else
        {
            // Already a member here: its membership holds the group already.
            _context.Groups.Release(group);
        }

        return id.Length == 0
            || await ReplyAsync((id, group, joined.Gseq), static (output, state) => ServerFrames.WriteJoinAck(output, state.id, state.group, state.Gseq));
    }

    /// <summary>
    /// An <c>invoke</c> (docs/protocol.md §7): the handler is called off the receive loop, so the connection's other
    /// frames go on while it works; the <c>result</c> (or the error) is queued when it answers.
    /// </summary>
    private async Task<bool> InvokeAsync(string eventName, byte[] data, byte[] id)
    {
        if (!_context.Upstream.IsConfigured)
        {
            return await SendErrorAsync(ErrorCodes.NotConfigured, "No upstream handler is configured.", id);
        }

        if (Interlocked.Increment(ref _invokesInFlight) > _context.Upstream.Options.MaxInFlightPerConnection)
        {
            Interlocked.Decrement(ref _invokesInFlight);
            return await SendErrorAsync(ErrorCodes.RateLimited, "Too many invokes waiting for the handler on this connection.", id);
        }

        _ = Task.Run(async () =>
        {
            try
            {
                var outcome = await _context.Upstream.InvokeAsync(eventName, ClientId, UserId, data);
                _ = outcome.Data is { } result
                    ? await ReplyAsync((id, result), static (output, state) => ServerFrames.WriteResult(output, state.id, state.result))
                    : await SendErrorAsync(outcome.ErrorCode!, outcome.ErrorMessage!, id);
            }
            catch (Exception e)
            {
                ConnectionLog.UnexpectedError(_context.Logger, ClientId, e);
            }
            finally
            {
                Interlocked.Decrement(ref _invokesInFlight);
            }
        });
        return true;
    }

    /// <summary>
    /// An <c>event</c> (docs/protocol.md §7): stored in its partition for the dispatcher, with who sent it taken from
    /// the connection, and acknowledged <c>accepted</c> once stored. Awaited like a send's append; the data counts
    /// against the send budget like a send's, as it is stored the same way.
    /// </summary>
    private async Task<bool> EventAsync(string eventName, ReadOnlyMemory<byte> data, byte[] id)
    {
        var upstream = _context.Upstream;
        if (!upstream.IsConfigured || upstream.Events is not { } events)
        {
            return await SendErrorAsync(
                ErrorCodes.NotConfigured,
                upstream.IsConfigured ? "Durable events need the coordination store (Redis); this node runs without one." : "No upstream handler is configured.",
                id);
        }

        var budget = _sendBudget ??= new SendBudget(_context.Options.SendBytesPerSecond, _context.Time.GetTimestamp());
        if (!budget.HasRoom(_context.Time))
        {
            return await SendErrorAsync(ErrorCodes.RateLimited, "This connection's send budget (Ws:SendBytesPerSecond) is spent; this event was dropped.", id);
        }

        var record = UpstreamRecord.FromClient(eventName, ClientId, UserId, _context.Options.ServerId, _context.Time.GetUtcNow(), data.ToArray());
        var stored = await events.AppendAsync(record);
        budget.Charge(data.Length, 1);
        return stored
            ? await AckAsync(id, AckStatus.Accepted)
            : await SendErrorAsync(ErrorCodes.UpstreamBusy, "Too many events wait for the handler; this event was not stored. Retry later.", id);
    }

    private ValueTask<bool> AckAsync(byte[] id, string status) =>
        id.Length == 0
            ? ValueTask.FromResult(true)
            : ReplyAsync((id, status), static (output, state) => ServerFrames.WriteAck(output, state.id, state.status));

    private ValueTask<bool> SendErrorAsync(string code, string message, ReadOnlyMemory<byte> id) =>
        ReplyAsync((code, message, id: id.ToArray()), static (output, state) => ServerFrames.WriteError(output, state.code, state.message, state.id));

    /// <summary>The client kept sending past its frame budget, or fragmented a message past the cap (<see cref="HeartbeatStream.Limit"/>).</summary>
    private void OnAbuse(string reason)
    {
        ConnectionLog.ClosingForPolicy(_context.Logger, ClientId, CloseCodes.PolicyViolation, reason);
        CloseUnresponsive(CloseCodes.PolicyViolation, reason);
    }

    private void ClosePolicy(int code, string reason)
    {
        ConnectionLog.ClosingForPolicy(_context.Logger, ClientId, code, reason);
        RequestClose(code, reason);
    }
}
