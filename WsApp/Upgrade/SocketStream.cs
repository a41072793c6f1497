using System.Net.Sockets;
using ServerlessWs.App.Heartbeat;

namespace ServerlessWs.App.Upgrade;

/// <summary>
/// An upgraded socket as the WebSocket's stream, in place of <see cref="NetworkStream"/>. A write goes out at once
/// when the socket's send buffer takes it, as it does for nearly every frame; only what the buffer does not take
/// waits on an asynchronous send. Why: the first asynchronous send leaves ~360 bytes of send state on the socket for
/// its whole life, which an idle connection then holds for nothing (docs/performance.md).
/// </summary>
/// <remarks>Writes are never concurrent: <see cref="HeartbeatStream"/> holds a write lock over this stream.</remarks>
internal sealed class SocketStream : DuplexStream
{
    private readonly Socket _socket;

    /// <param name="socket">The connection; owned by this stream from now on.</param>
    public SocketStream(Socket socket)
    {
        _socket = socket;
        // Sends that cannot complete now return at once (with the count they did send) instead of blocking a thread.
        // Asynchronous operations do not depend on this.
        _socket.Blocking = false;
    }

    /// <remarks>
    /// The socket's own pending read, not wrapped in another: an idle connection's zero-byte read holds nothing of
    /// this stream's. Its errors come out as <see cref="SocketException"/>, which the WebSocket reports as it reports
    /// any failure of its stream.
    /// </remarks>
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        _socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var sent = _socket.Send(buffer.Span, SocketFlags.None, out var error);
        if (error is not (SocketError.Success or SocketError.WouldBlock))
        {
            throw new IOException($"Sending on the connection failed: {error}.", new SocketException((int)error));
        }

        return sent == buffer.Length ? ValueTask.CompletedTask : SendRestAsync(buffer[sent..], cancellationToken);
    }

    private async ValueTask SendRestAsync(ReadOnlyMemory<byte> rest, CancellationToken cancellationToken)
    {
        try
        {
            await SendAllAsync(_socket, rest, cancellationToken);
        }
        catch (SocketException e)
        {
            throw new IOException(e.Message, e);
        }
    }

    /// <summary>Sends every byte of <paramref name="bytes"/>, waiting as long as the peer takes to read them.</summary>
    public static async ValueTask SendAllAsync(Socket socket, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken = default)
    {
        while (!bytes.IsEmpty)
        {
            bytes = bytes[await socket.SendAsync(bytes, SocketFlags.None, cancellationToken)..];
        }
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override void Flush()
    {
        // Nothing is buffered here.
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _socket.Dispose();
        }

        base.Dispose(disposing);
    }
}
