using System.IO.Pipelines;

namespace ServerlessWs.App.Upgrade;

/// <summary>
/// A connection's transport pipes as the one duplex <see cref="Stream"/> a <see cref="System.Net.WebSockets.WebSocket"/>
/// runs on. Disposing it ends a pending read (the WebSocket disposes its stream when it aborts) but leaves the
/// transport to Kestrel, which closes it when the connection middleware returns.
/// </summary>
internal sealed class DuplexPipeStream(IDuplexPipe transport) : UnseekableStream
{
    private readonly Stream _input = transport.Input.AsStream(leaveOpen: true);
    private readonly Stream _output = transport.Output.AsStream(leaveOpen: true);
    private int _disposed;

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        _input.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        _input.ReadAsync(buffer, offset, count, cancellationToken);

    // PipeWriter.WriteAsync flushes: each frame the WebSocket writes goes out with it.
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        _output.WriteAsync(buffer, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        _output.WriteAsync(buffer, offset, count, cancellationToken);

    public override Task FlushAsync(CancellationToken cancellationToken) => _output.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => _input.Read(buffer, offset, count);

    public override void Write(byte[] buffer, int offset, int count) => _output.Write(buffer, offset, count);

    public override void Flush() => _output.Flush();

    public override bool CanRead => true;

    public override bool CanWrite => true;

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            // A receive still waiting on the socket returns (canceled), and so does a write held up by a client that
            // stopped reading, so the connection's loops can end.
            transport.Input.CancelPendingRead();
            transport.Output.CancelPendingFlush();
        }

        base.Dispose(disposing);
    }
}
