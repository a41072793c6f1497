using System.Buffers;
using System.Diagnostics;
using System.Net.WebSockets;
using ServerlessWs.Core.Protocol;
using ServerlessWs.Core.Sessions;
using ServerlessWs.Core.Telemetry;

namespace ServerlessWs.App.Connections;

internal sealed partial class ClientConnection
{
    /// <summary>
    /// The only code that sends on the socket, one pump at a time: the opening (first pump only), then the outbox,
    /// until it is empty (the pump ends; the next item starts another) or closed (then the close frame).
    /// </summary>
    private async Task PumpAsync()
    {
        var last = true;
        try
        {
            if (_opening is { } opening)
            {
                _opening = null;
                await SendOpeningAsync(opening.Welcome, opening.Replay);
            }

            // A fresh buffer per burst: an idle connection keeps none.
            ArrayBufferWriter<byte>? buffer = null;
            Outbound item;
            bool closing;
            while (TryTakeNext(out item, out closing))
            {
                if (item.Entry is { Group: { } group } groupEntry)
                {
                    await DeliverGroupInOrderAsync(group, groupEntry, item, buffer ??= new ArrayBufferWriter<byte>(512));
                }
                else if (item.Entry is { } entry)
                {
                    await DeliverInOrderAsync(entry, item.CatchUp, buffer ??= new ArrayBufferWriter<byte>(512));
                }
                else if (item.RestartSeq)
                {
                    _lastSentSeq = 0;
                }
                else
                {
                    await SendTextAsync(item.Frame);
                }
            }

            last = closing;
            if (closing)
            {
                await SendCloseAsync();
            }
        }
        catch (Exception e) when (e is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            // The socket broke under a send (or was aborted); the receive loop sees the same and ends the connection.
        }
        catch (Exception e)
        {
            ConnectionLog.UnexpectedError(_context.Logger, ClientId, e);
            _socket.Abort();
        }
        finally
        {
            if (last)
            {
                FinishPump();
            }
        }
    }

    /// <summary>The next item to send; false when the outbox is empty: then this pump stops, or sends the close if <paramref name="closing"/>.</summary>
    private bool TryTakeNext(out Outbound item, out bool closing)
    {
        lock (_outbox)
        {
            closing = _outboxClosed;
            if (_dropQueued)
            {
                _outbox.Clear();
                _context.Outboxes.Add(-_outboxBytes);
                _outboxBytes = 0;
            }

            if (!_outbox.TryDequeue(out item))
            {
                // Idle: the next item starts a pump. Closing: this pump goes on to the close frame.
                _pumping = _outboxClosed;
                return false;
            }

            _outboxBytes -= item.Bytes;
            _context.Outboxes.Add(-item.Bytes);
            _room?.TrySetResult(true);
            _room = null;
            return true;
        }
    }

    /// <summary>The last pump is done (close sent, or the socket broke): no other will run.</summary>
    private void FinishPump()
    {
        lock (_outbox)
        {
            _pumpFinished = true;
            // Nothing more is sent: what is left (a socket that broke mid-queue) no longer counts against the node.
            _context.Outboxes.Add(-_outboxBytes);
            _outboxBytes = 0;
            _outbox.Clear();
            _finished?.TrySetResult();
        }
    }

    private Task PumpFinishedAsync()
    {
        lock (_outbox)
        {
            if (_pumpFinished)
            {
                return Task.CompletedTask;
            }

            _finished ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _finished.Task;
        }
    }

    /// <summary>The welcome and the replay, in a method of their own so that their buffer is not kept for the life of the socket.</summary>
    private async Task SendOpeningAsync(Welcome? welcome, IReadOnlyList<LogEntry> replay)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        if (welcome is { } first)
        {
            ServerFrames.WriteWelcome(buffer, first);
            await SendTextAsync(buffer.WrittenMemory);
        }

        foreach (var entry in replay)
        {
            await SendEntryAsync(entry, buffer);
        }

        WsMetrics.Replayed.Add(replay.Count);
    }

    /// <summary>
    /// Delivers strictly by seq (docs/design.md invariant 3): an entry already sent is skipped, and a gap (doorbells can
    /// arrive out of order from different senders) is filled from the log first. A catch-up sends the whole gap.
    /// </summary>
    private async Task DeliverInOrderAsync(LogEntry entry, bool catchUp, ArrayBufferWriter<byte> buffer)
    {
        if (entry.Seq <= _lastSentSeq)
        {
            return;
        }

        if (entry.Seq > _lastSentSeq + 1)
        {
            foreach (var earlier in await ReadGapAsync(entry.Seq))
            {
                await SendEntryAsync(earlier, buffer);
            }
        }

        if (catchUp)
        {
            return;
        }

        // A span for the delivery, in the trace of the send that rang (carried by the doorbell).
        using var activity = StartDeliverySpan(entry);
        await SendEntryAsync(entry, buffer);
    }

    /// <summary>
    /// Delivers a group message strictly by gseq: one this socket already had (or that precedes its join) is
    /// skipped, and so is one of a group it left. The node fills doorbell gaps for all its members; a catch-up
    /// (a member added while the node was delivering past its position) reads the group's log for this socket.
    /// </summary>
    private async Task DeliverGroupInOrderAsync(string group, LogEntry entry, Outbound item, ArrayBufferWriter<byte> buffer)
    {
        if (GroupPosition(group) is not { } position || entry.Seq <= position)
        {
            return;
        }

        if (item.CatchUp)
        {
            foreach (var missed in await ReadGroupGapAsync(group, position))
            {
                if (missed.Seq > entry.Seq)
                {
                    break;
                }

                if (GroupPosition(group) is not { } current || missed.Seq <= current)
                {
                    continue;
                }

                if (missed.From != ClientId)
                {
                    await SendEntryAsync(missed, buffer);
                }

                AdvanceGroup(group, missed.Seq);
            }

            return;
        }

        // The sender never receives its own group message (§5b): its position moves past it all the same.
        if (entry.From == ClientId)
        {
            AdvanceGroup(group, entry.Seq);
            return;
        }

        using var activity = StartDeliverySpan(entry);
        if (item.Frame.IsEmpty)
        {
            await SendEntryAsync(entry, buffer);
        }
        else
        {
            await SendTextAsync(item.Frame);
            WsMetrics.DeliveryLatency.Record(_context.Time.GetUtcNow().ToUnixTimeMilliseconds() - entry.AppendedAtMs);
        }

        AdvanceGroup(group, entry.Seq);
    }

    /// <summary>This socket's position in <paramref name="group"/>, or null when it is not a member (any more).</summary>
    private long? GroupPosition(string group)
    {
        lock (_outbox)
        {
            if (group == Groups.Broadcast)
            {
                return _broadcastPosition;
            }

            return _groupPositions is not null && _groupPositions.TryGetValue(group, out var position) ? position : null;
        }
    }

    private void AdvanceGroup(string group, long gseq)
    {
        lock (_outbox)
        {
            if (group == Groups.Broadcast)
            {
                _broadcastPosition = gseq;
            }
            else if (_groupPositions is not null && _groupPositions.ContainsKey(group))
            {
                _groupPositions[group] = gseq;
            }
        }
    }

    private async Task<IReadOnlyList<LogEntry>> ReadGroupGapAsync(string group, long afterGseq)
    {
        await _context.GapReads.WaitAsync();
        try
        {
            return (await _context.Store.ReadGroupLogAsync(group, afterGseq, CancellationToken.None)).Entries;
        }
        catch (StoreUnavailableException e)
        {
            ConnectionLog.StoreUnavailable(_context.Logger, "group read", ClientId, e);
            return [];
        }
        finally
        {
            _context.GapReads.Release();
        }
    }

    private Activity? StartDeliverySpan(LogEntry entry)
    {
        if (entry.TraceParent is null || !WsMetrics.ActivitySource.HasListeners()
            || !ActivityContext.TryParse(entry.TraceParent, null, out var sendContext))
        {
            return null;
        }

        var activity = WsMetrics.ActivitySource.StartActivity("ws.deliver", ActivityKind.Consumer, sendContext);
        activity?.SetTag("ws.client_id", ClientId);
        activity?.SetTag("ws.seq", entry.Seq);
        return activity;
    }

    /// <summary>The log entries between the last one sent and <paramref name="beforeSeq"/>.</summary>
    private async Task<IEnumerable<LogEntry>> ReadGapAsync(long beforeSeq)
    {
        await _context.GapReads.WaitAsync();
        try
        {
            var read = await _context.Store.ReadLogAsync(ClientId, _lastSentSeq, CancellationToken.None);
            return read.Entries.Where(e => e.Seq < beforeSeq);
        }
        catch (StoreUnavailableException e)
        {
            // The store is unreachable: the client sees the jump in seq, which is how it knows to resume.
            ConnectionLog.StoreUnavailable(_context.Logger, "read", ClientId, e);
            return [];
        }
        finally
        {
            _context.GapReads.Release();
        }
    }

    private async Task SendEntryAsync(LogEntry entry, ArrayBufferWriter<byte> buffer)
    {
        buffer.ResetWrittenCount();
        ServerFrames.WriteMessage(buffer, entry);
        await SendTextAsync(buffer.WrittenMemory);
        if (entry.Group is null)
        {
            _lastSentSeq = entry.Seq;
        }

        WsMetrics.DeliveryLatency.Record(_context.Time.GetUtcNow().ToUnixTimeMilliseconds() - entry.AppendedAtMs);
    }

    private ValueTask SendTextAsync(ReadOnlyMemory<byte> frame) =>
        _socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);

    private async Task SendCloseAsync()
    {
        if (_socket.State is not (WebSocketState.Open or WebSocketState.CloseReceived))
        {
            return;
        }

        try
        {
            using var timeout = new CancellationTokenSource(CloseTimeout);
            await _socket.CloseOutputAsync((WebSocketCloseStatus)_closeCode, _closeReason, timeout.Token);
        }
        catch (Exception e) when (e is WebSocketException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The peer is gone or stuck; RunAsync aborts what is left.
        }
    }
}
