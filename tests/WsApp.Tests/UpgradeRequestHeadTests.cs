using System.Buffers;
using System.Text;
using ServerlessWs.App.Upgrade;

namespace ServerlessWs.App.Tests;

/// <summary>The head reader of the upgrade's fast path on byte sequences, split the ways a socket may split them.</summary>
public sealed class UpgradeRequestHeadTests
{
    private const string Head =
        "GET /ws?clientId=a%20b&lastSeq=4 HTTP/1.1\r\nHost: node:80\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Empty:\r\nAccept:  a ,\tb \r\n\r\n";

    [Fact]
    public void AHeadSplitAnywhereIsReadTheSameAndItsPrefixesWaitForMore()
    {
        var bytes = Encoding.ASCII.GetBytes(Head + "\x81\x80");
        var headLength = Encoding.ASCII.GetByteCount(Head);
        for (var split = 1; split < headLength; split++)
        {
            var status = UpgradeRequestHead.Parse(Sequence(bytes, split), out var end, out var head, out var error);

            Assert.True(status == HeadStatus.Complete, $"split at {split}: {status} {error}");
            Assert.Equal(headLength, Sequence(bytes, split).Slice(0, end).Length);
            Assert.Equal("?clientId=a%20b&lastSeq=4", head!.QueryString);
            Assert.Equal("node:80", head.Headers.Host);
            Assert.Equal("dGhlIHNhbXBsZSBub25jZQ==", head.Headers.SecWebSocketKey);
            Assert.True(string.IsNullOrEmpty(head.Headers["X-Empty"]), "an empty value is allowed");
            Assert.Equal("a ,\tb", head.Headers.Accept);

            Assert.Equal(HeadStatus.Incomplete, UpgradeRequestHead.Parse(Sequence(bytes.AsSpan(0, split).ToArray(), split / 2 + 1), out _, out _, out _));
        }
    }

    [Theory]
    [InlineData("POST /ws HTTP/1.1\r\n\r\n")]
    [InlineData("GET /wsx HTTP/1.1\r\n\r\n")]
    [InlineData("GET /ws/ HTTP/1.1\r\n\r\n")]
    [InlineData("GET /healthz HTTP/1.1\r\n\r\n")]
    [InlineData("GET /ws HTTP/1.0\r\n\r\n")]
    [InlineData("GET /ws?x=1 HTTP/2.0\r\n\r\n")]
    [InlineData("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")]
    [InlineData("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")]
    [InlineData("G")]
    public void WhatIsNotAnHttp11GetOfWsIsLeftToKestrel(string bytes)
    {
        var status = UpgradeRequestHead.Parse(new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes(bytes)), out _, out _, out _);

        Assert.Equal(bytes == "G" ? HeadStatus.Incomplete : HeadStatus.PassThrough, status);
    }

    [Theory]
    [InlineData("GET /ws HTTP/1.1\nHost: a\r\n\r\n")]
    [InlineData("GET /ws HTTP/1.1\r\nHost a\r\n\r\n")]
    [InlineData("GET /ws HTTP/1.1\r\n: a\r\n\r\n")]
    [InlineData("GET /ws HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")]
    [InlineData("GET /ws HTTP/1.1\r\nOrigin: a\r\norigin: b\r\n\r\n")]
    [InlineData("GET /ws HTTP/1.1\r\nX: \u00e9\r\n\r\n")]
    [InlineData("GET /ws?\u00e9 HTTP/1.1\r\n\r\n")]
    [InlineData("GET /ws?a\tb HTTP/1.1\r\n\r\n")]
    public void AMalformedHeadOfGetWsIsRefusedWithAReason(string bytes)
    {
        var status = UpgradeRequestHead.Parse(new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes(bytes)), out _, out var head, out var error);

        Assert.Equal(HeadStatus.Malformed, status);
        Assert.Null(head);
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Fact]
    public void AHeadThatReaches32KiBWithoutEndingIsTooLarge()
    {
        var bytes = Encoding.ASCII.GetBytes("GET /ws HTTP/1.1\r\nX-Padding: " + new string('a', UpgradeRequestHead.MaxBytes));

        Assert.Equal(HeadStatus.TooLarge, UpgradeRequestHead.Parse(new ReadOnlySequence<byte>(bytes), out _, out _, out _));
        Assert.Equal(HeadStatus.Incomplete, UpgradeRequestHead.Parse(new ReadOnlySequence<byte>(bytes, 0, UpgradeRequestHead.MaxBytes - 1), out _, out _, out _));
    }

    /// <summary><paramref name="bytes"/> as a sequence of segments of <paramref name="size"/> bytes.</summary>
    private static ReadOnlySequence<byte> Sequence(byte[] bytes, int size)
    {
        var first = new Segment(bytes.AsMemory(0, Math.Min(size, bytes.Length)), 0);
        var last = first;
        for (var at = size; at < bytes.Length; at += size)
        {
            last = last.Append(bytes.AsMemory(at, Math.Min(size, bytes.Length - at)));
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
