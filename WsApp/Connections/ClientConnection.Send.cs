using System.Buffers;
using System.Net.WebSockets;
using ServerlessWs.Core.Protocol;
using ServerlessWs.Core.Sessions;
using ServerlessWs.Core.Telemetry;

namespace ServerlessWs.App.Connections;

internal sealed partial class ClientConnection
{
    /// <summary>
    /// The only code that sends on the socket: the welcome, then the replay, then queued frames and log entries,
    /// then the close frame once a close was requested.
    /// </summary>
    private async Task WriteLoopAsync(Welcome welcome, IReadOnlyList<LogEntry> replay)
    {
        try
        {
            var buffer = new ArrayBufferWriter<byte>(512);
            ServerFrames.WriteWelcome(buffer, welcome);
            await SendTextAsync(buffer.WrittenMemory);
            foreach (var entry in replay)
            {
                await SendEntryAsync(entry, buffer);
            }

            WsMetrics.Replayed.Add(replay.Count);
            await DrainQueueAsync();
        }
        catch (Exception e) when (e is WebSocketException or IOException or ObjectDisposedException)
        {
            // The socket broke under a send; the receive loop sees the same and ends the connection.
            return;
        }

        await SendCloseAsync();
    }

    /// <summary>Sends queued items until the queue is completed (a close was requested) and empty.</summary>
    private async Task DrainQueueAsync()
    {
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync() && !_dropQueued)
        {
            // A fresh buffer per burst: an idle connection keeps none.
            var buffer = new ArrayBufferWriter<byte>(512);
            while (!_dropQueued && reader.TryRead(out var item))
            {
                if (item.Entry is { } entry)
                {
                    await DeliverInOrderAsync(entry, buffer);
                }
                else
                {
                    await SendTextAsync(item.Frame);
                }
            }
        }
    }

    /// <summary>
    /// Delivers strictly by seq (DESIGN.md invariant 3): an entry already sent is skipped, and a gap (doorbells can
    /// arrive out of order from different senders) is filled from the log first.
    /// </summary>
    private async Task DeliverInOrderAsync(LogEntry entry, ArrayBufferWriter<byte> buffer)
    {
        if (entry.Seq <= _lastSentSeq)
        {
            return;
        }

        if (entry.Seq > _lastSentSeq + 1)
        {
            var missing = await _context.Store.ReadLogAsync(ClientId, _lastSentSeq, CancellationToken.None);
            foreach (var earlier in missing.Entries)
            {
                if (earlier.Seq < entry.Seq)
                {
                    await SendEntryAsync(earlier, buffer);
                }
            }
        }

        await SendEntryAsync(entry, buffer);
    }

    private async Task SendEntryAsync(LogEntry entry, ArrayBufferWriter<byte> buffer)
    {
        buffer.ResetWrittenCount();
        ServerFrames.WriteMessage(buffer, entry);
        await SendTextAsync(buffer.WrittenMemory);
        _lastSentSeq = entry.Seq;
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
