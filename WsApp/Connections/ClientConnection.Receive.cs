using System.Buffers;
using System.Net.WebSockets;
using ServerlessWs.Core.Protocol;
using ServerlessWs.Core.Routing;
using ServerlessWs.Core.Telemetry;

namespace ServerlessWs.App.Connections;

internal sealed partial class ClientConnection
{
    private async Task ReadLoopAsync()
    {
        try
        {
            while (_socket.State == WebSocketState.Open)
            {
                // Zero-byte read: an idle connection holds no receive buffer, only the socket.
                var peek = await _socket.ReceiveAsync(Memory<byte>.Empty, CancellationToken.None);
                if (peek.MessageType == WebSocketMessageType.Close)
                {
                    _peerCloseCode = (int?)_socket.CloseStatus ?? CloseCodes.Normal;
                    return;
                }

                if (!await ReceiveMessageAsync())
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (_closeCode < 0)
        {
            // Receives run without a token and this class aborts only after a close request, so an abort out of the
            // blue is the framework's keep-alive: no pong within Ws:HeartbeatSeconds after a ping.
            ConnectionLog.HeartbeatTimeout(_context.Logger, ClientId);
            WsMetrics.HeartbeatTerminations.Add(1);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
        {
            if (_closeCode < 0)
            {
                ConnectionLog.ConnectionError(_context.Logger, ClientId, e);
            }
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
        var parsed = ClientFrameParser.Parse(message);
        if (!_rate.TryTake(_context.Time))
        {
            SendError(ErrorCodes.RateLimited, "Too many frames; this one was dropped.", parsed.Id.Span);
            return true;
        }

        if (parsed.Frame is not { } frame)
        {
            SendError(parsed.ErrorCode!, parsed.ErrorMessage!, parsed.Id.Span);
            if (_badFrames.RecordAndCheckExceeded())
            {
                ClosePolicy(CloseCodes.PolicyViolation, "too many bad frames");
                return false;
            }

            return true;
        }

        // Copied out of the pooled receive buffer: the router keeps the data in the log.
        var id = frame.Id.ToArray();
        try
        {
            switch (frame.Type)
            {
                case ClientFrameType.Ping:
                    EnqueueFrame(output => ServerFrames.WritePong(output, id));
                    break;
                case ClientFrameType.Send:
                    var outcome = frame.To is not null
                        ? await _context.Router.SendAsync(ClientId, frame.To, frame.Data.ToArray(), CancellationToken.None)
                        : await _context.Router.SendToGroupAsync(ClientId, frame.Group!, frame.Data.ToArray(), CancellationToken.None);
                    SendAck(id, outcome.ToAckStatus());
                    break;
                case ClientFrameType.Join:
                    await _context.Store.JoinAsync(ClientId, frame.Group!, CancellationToken.None);
                    SendAck(id, AckStatus.Ok);
                    break;
                case ClientFrameType.Leave:
                    await _context.Store.LeaveAsync(ClientId, frame.Group!, CancellationToken.None);
                    SendAck(id, AckStatus.Ok);
                    break;
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The store is unreachable: the socket stays open and the client is told to retry (DESIGN.md invariant 4).
            ConnectionLog.StoreFailed(_context.Logger, ClientId, e);
            SendError(ErrorCodes.Unavailable, "The coordination store cannot be reached; retry later.", id);
        }

        return true;
    }

    private void SendAck(byte[] id, string status)
    {
        if (id.Length > 0)
        {
            EnqueueFrame(output => ServerFrames.WriteAck(output, id, status));
        }
    }

    private void SendError(string code, string message, ReadOnlySpan<byte> id)
    {
        var idCopy = id.ToArray();
        EnqueueFrame(output => ServerFrames.WriteError(output, code, message, idCopy));
    }

    private void ClosePolicy(int code, string reason)
    {
        ConnectionLog.ClosingForPolicy(_context.Logger, ClientId, code, reason);
        RequestClose(code, reason);
    }
}
