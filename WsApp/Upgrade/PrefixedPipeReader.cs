using System.Buffers;
using System.IO.Pipelines;

namespace ServerlessWs.App.Upgrade;

/// <summary>
/// A connection's input with the bytes already read from its socket put back in front: Kestrel's HTTP parser reads
/// them first, then the rest of the connection, as if nobody had looked.
/// </summary>
/// <remarks>
/// While any of those bytes is left, a read returns what is left of them. When the reader has examined all of them
/// and wants more (a head cut short), the next read waits for the socket and appends what arrives, so the parser
/// always sees one contiguous buffer. Once the reader has consumed all of them, every call goes to the socket's reader.
/// </remarks>
internal sealed class PrefixedPipeReader(ReadOnlyMemory<byte> prefix, PipeReader inner) : PipeReader
{
    private ReadOnlyMemory<byte> _prefix = prefix;
    private ReadOnlySequence<byte> _returned;
    private bool _returnedPrefix;
    private bool _wantsMore;
    private bool _innerCompleted;

    public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        if (_prefix.IsEmpty)
        {
            return await inner.ReadAsync(cancellationToken);
        }

        if (_wantsMore && !_innerCompleted)
        {
            var result = await inner.ReadAsync(cancellationToken);
            if (result.IsCanceled)
            {
                return ReturnPrefix(isCanceled: true);
            }

            Append(result);
        }

        return ReturnPrefix(isCanceled: false);
    }

    public override bool TryRead(out ReadResult result)
    {
        if (_prefix.IsEmpty)
        {
            return inner.TryRead(out result);
        }

        if (_wantsMore && !_innerCompleted)
        {
            if (!inner.TryRead(out var more))
            {
                result = default;
                return false;
            }

            Append(more);
        }

        result = ReturnPrefix(isCanceled: false);
        return true;
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        if (!_returnedPrefix)
        {
            inner.AdvanceTo(consumed, examined);
            return;
        }

        _returnedPrefix = false;
        _wantsMore = _returned.Slice(examined).IsEmpty;
        _prefix = _prefix[(int)_returned.Slice(0, consumed).Length..];
    }

    public override void CancelPendingRead() => inner.CancelPendingRead();

    public override void Complete(Exception? exception = null) => inner.Complete(exception);

    public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);

    private ReadResult ReturnPrefix(bool isCanceled)
    {
        _returned = new ReadOnlySequence<byte>(_prefix);
        _returnedPrefix = true;
        return new ReadResult(_returned, isCanceled, _innerCompleted);
    }

    /// <summary>Moves what the socket's reader holds to the end of the prefix.</summary>
    private void Append(ReadResult result)
    {
        var joined = new byte[_prefix.Length + result.Buffer.Length];
        _prefix.CopyTo(joined);
        result.Buffer.CopyTo(joined.AsSpan(_prefix.Length));
        inner.AdvanceTo(result.Buffer.End);
        _prefix = joined;
        _innerCompleted = result.IsCompleted;
        _wantsMore = false;
    }
}

/// <summary>A connection's input and output as one transport (the framework's own type for this is internal).</summary>
internal sealed record DuplexPipe(PipeReader Input, PipeWriter Output) : IDuplexPipe;
