using ServerlessWs.App.Heartbeat;

namespace ServerlessWs.App.Tests;

/// <summary>The heartbeat's view of the inbound byte stream: pongs counted, whatever the framing and chunking.</summary>
public sealed class InboundFrameScannerTests
{
    [Fact]
    public void PongsAreCountedAmongOtherFramesOfEverySize()
    {
        var stream = Concat(
            Frame(0x1, 5),
            Frame(0xA, 0),
            Frame(0x1, 300),
            Frame(0xA, 8),
            Frame(0x2, 70_000),
            Frame(0x9, 3),
            Frame(0xA, 125));

        var scanner = default(InboundFrameScanner);

        Assert.Equal(3, scanner.Scan(stream));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(4096)]
    public void ChunkBoundariesAnywhereGiveTheSameCount(int chunk)
    {
        var stream = Concat(Frame(0xA, 0), Frame(0x1, 126), Frame(0xA, 4), Frame(0x1, 65_536), Frame(0xA, 1));
        var scanner = default(InboundFrameScanner);

        var pongs = 0;
        for (var offset = 0; offset < stream.Length; offset += chunk)
        {
            pongs += scanner.Scan(stream.AsSpan(offset, Math.Min(chunk, stream.Length - offset)));
        }

        Assert.Equal(3, pongs);
    }

    [Fact]
    public void PayloadBytesThatLookLikeAPongHeaderAreNotCounted()
    {
        var payload = new byte[20];
        Array.Fill(payload, (byte)0x8A);
        var scanner = default(InboundFrameScanner);

        Assert.Equal(0, scanner.Scan(Frame(0x1, payload.Length, payload)));
    }

    [Fact]
    public void AnUnmaskedFrameIsNotedFromItsSecondByte()
    {
        var scanner = default(InboundFrameScanner);
        scanner.Scan(Frame(0x1, 10));
        Assert.Null(scanner.Violation);

        // Two bytes are all there is of an empty unmasked frame: the WebSocket itself would wait for a mask key.
        scanner.Scan([0x81, 0x00]);

        Assert.Contains("unmasked", scanner.Violation, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0x80)]
    [InlineData(0xFF)]
    public void ALengthWithItsTopBitSetIsAViolationAndScanningStops(byte firstLengthByte)
    {
        // Found in review: a negative length made the payload step zero, and the scan loop spun forever.
        var scanner = default(InboundFrameScanner);
        byte[] header = [0x81, 0xFF, firstLengthByte, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 0xAA];

        var pongs = scanner.Scan(header);

        Assert.Equal(0, pongs);
        Assert.Contains("most significant bit", scanner.Violation, StringComparison.Ordinal);
    }

    /// <summary>A masked client frame with the given opcode and payload length.</summary>
    private static byte[] Frame(int opcode, int length, byte[]? payload = null)
    {
        var header = new List<byte> { (byte)(0x80 | opcode) };
        if (length < 126)
        {
            header.Add((byte)(0x80 | length));
        }
        else if (length <= ushort.MaxValue)
        {
            header.AddRange([0x80 | 126, (byte)(length >> 8), (byte)length]);
        }
        else
        {
            header.Add(0x80 | 127);
            header.AddRange(BitConverter.GetBytes((ulong)length).Reverse());
        }

        header.AddRange([1, 2, 3, 4]);
        return [.. header, .. payload ?? new byte[length]];
    }

    private static byte[] Concat(params byte[][] frames) => frames.SelectMany(f => f).ToArray();
}
