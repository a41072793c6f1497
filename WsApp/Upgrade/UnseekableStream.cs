namespace ServerlessWs.App.Upgrade;

/// <summary>The part every stream under a WebSocket shares: a connection has no length and no position.</summary>
internal abstract class UnseekableStream : Stream
{
    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
