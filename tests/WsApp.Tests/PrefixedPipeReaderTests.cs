using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using ServerlessWs.App.Upgrade;

namespace ServerlessWs.App.Tests;

/// <summary>
/// The input Kestrel gets for a connection the upgrade transport has already read from: the bytes read first, then the
/// socket's, the way Kestrel's parser reads them (consuming part, or examining all and asking for more).
/// </summary>
public sealed class PrefixedPipeReaderTests
{
    [Fact]
    public async Task TheBytesReadSoFarComeFirstThenTheConnectionsInOrder()
    {
        var socket = new Pipe();
        var reader = new PrefixedPipeReader("GET /a"u8.ToArray(), socket.Reader);
        await socket.Writer.WriteAsync("bc HTTP/1.1\r\n"u8.ToArray());
        socket.Writer.Complete();

        var text = new StringBuilder();
        while (true)
        {
            var result = await reader.ReadAsync();
            text.Append(Encoding.ASCII.GetString(result.Buffer));
            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }

        Assert.Equal("GET /abc HTTP/1.1\r\n", text.ToString());
    }

    [Fact]
    public async Task AReaderThatExaminedEverythingGetsTheNextBytesJoinedToWhatItHasNotConsumed()
    {
        var socket = new Pipe();
        var reader = new PrefixedPipeReader("GET / HTTP/1.1\r\nHo"u8.ToArray(), socket.Reader);

        var first = await reader.ReadAsync();
        Assert.Equal("GET / HTTP/1.1\r\nHo", Encoding.ASCII.GetString(first.Buffer));
        // A parser that took the request line and needs the rest of the header line.
        reader.AdvanceTo(first.Buffer.GetPosition(16), first.Buffer.End);

        var pending = reader.ReadAsync();
        Assert.False(pending.IsCompleted, "it waits for the socket rather than returning what was examined");
        await socket.Writer.WriteAsync("st: a\r\n\r\n"u8.ToArray());
        var second = await pending;

        Assert.True(second.Buffer.IsSingleSegment);
        Assert.Equal("Host: a\r\n\r\n", Encoding.ASCII.GetString(second.Buffer));
        reader.AdvanceTo(second.Buffer.End);

        await socket.Writer.WriteAsync("next"u8.ToArray());
        Assert.True(reader.TryRead(out var third));
        Assert.Equal("next", Encoding.ASCII.GetString(third.Buffer));
        reader.AdvanceTo(third.Buffer.End);
    }

    [Fact]
    public async Task AReaderThatConsumedNothingAndExaminedNothingGetsTheSameBytesAgainAtOnce()
    {
        var socket = new Pipe();
        var reader = new PrefixedPipeReader("PRI * HTTP/2.0"u8.ToArray(), socket.Reader);

        var first = await reader.ReadAsync();
        reader.AdvanceTo(first.Buffer.Start, first.Buffer.Start);
        var again = reader.ReadAsync();

        Assert.True(again.IsCompleted);
        Assert.Equal("PRI * HTTP/2.0", Encoding.ASCII.GetString((await again).Buffer));
    }

    [Fact]
    public async Task TheEndOfTheConnectionReachesAReaderStillHoldingBytesReadSoFar()
    {
        var socket = new Pipe();
        var reader = new PrefixedPipeReader("GET /ws HT"u8.ToArray(), socket.Reader);
        socket.Writer.Complete();

        var first = await reader.ReadAsync();
        reader.AdvanceTo(first.Buffer.Start, first.Buffer.End);
        var second = await reader.ReadAsync();

        Assert.True(second.IsCompleted);
        Assert.Equal("GET /ws HT", Encoding.ASCII.GetString(second.Buffer));
    }
}
