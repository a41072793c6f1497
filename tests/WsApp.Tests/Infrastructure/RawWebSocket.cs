using System.Buffers.Binary;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace ServerlessWs.App.Tests.Infrastructure;

/// <summary>
/// A hand-rolled RFC 6455 client over a real TCP socket, for what <c>ClientWebSocket</c> will not do: stay silent
/// to pings, or send bytes that are not valid UTF-8 in a text frame.
/// </summary>
public sealed class RawWebSocket : IDisposable
{
    public const byte OpText = 0x1;
    public const byte OpClose = 0x8;
    public const byte OpPing = 0x9;
    public const byte OpPong = 0xA;

    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;

    private RawWebSocket(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    public static async Task<RawWebSocket> ConnectAsync(WsNode node, string query = "")
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync(node.BaseUri.Host, node.BaseUri.Port).WaitAsync(TestClient.Timeout);
        var raw = new RawWebSocket(tcp);
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        var path = "/ws" + (query.Length > 0 ? "?" + query : string.Empty);
        var request = $"GET {path} HTTP/1.1\r\nHost: {node.BaseUri.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                      $"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n";
        await raw._stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        var headers = await raw.ReadHeadersAsync();
        Assert.StartsWith("HTTP/1.1 101", headers, StringComparison.Ordinal);
        return raw;
    }

    public const byte OpContinuation = 0x0;

    /// <param name="fin">False for a fragment that more of the message follows.</param>
    public async Task SendFrameAsync(byte opcode, ReadOnlyMemory<byte> payload, bool fin = true)
    {
        var header = new List<byte> { (byte)((fin ? 0x80 : 0) | opcode) };
        if (payload.Length < 126)
        {
            header.Add((byte)(0x80 | payload.Length));
        }
        else
        {
            header.Add(0x80 | 126);
            header.Add((byte)(payload.Length >> 8));
            header.Add((byte)payload.Length);
        }

        var mask = RandomNumberGenerator.GetBytes(4);
        header.AddRange(mask);
        var masked = payload.ToArray();
        for (var i = 0; i < masked.Length; i++)
        {
            masked[i] ^= mask[i % 4];
        }

        // Header and payload in separate writes, the payload split too: the server must reassemble across reads.
        await _stream.WriteAsync(header.ToArray());
        await _stream.FlushAsync();
        await _stream.WriteAsync(masked.AsMemory(0, masked.Length / 2));
        await _stream.FlushAsync();
        await _stream.WriteAsync(masked.AsMemory(masked.Length / 2));
    }

    /// <summary>Reads one frame; null when the server closed or reset the connection, or nothing came in time.</summary>
    public async Task<(byte Opcode, byte[] Payload)?> ReadFrameAsync(TimeSpan within)
    {
        using var timeout = new CancellationTokenSource(within);
        try
        {
            var head = await ReadExactlyAsync(2, timeout.Token);
            long length = head[1] & 0x7F;
            if (length == 126)
            {
                length = BinaryPrimitives.ReadUInt16BigEndian(await ReadExactlyAsync(2, timeout.Token));
            }
            else if (length == 127)
            {
                length = (long)BinaryPrimitives.ReadUInt64BigEndian(await ReadExactlyAsync(8, timeout.Token));
            }

            return ((byte)(head[0] & 0x0F), await ReadExactlyAsync((int)length, timeout.Token));
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or OperationCanceledException)
        {
            // Closed, reset, or nothing within the time (the stream is then unusable for framing: tests stop reading).
            return null;
        }
    }

    public void Dispose() => _tcp.Dispose();

    private async Task<byte[]> ReadExactlyAsync(int count, CancellationToken cancellationToken)
    {
        var buffer = new byte[count];
        await _stream.ReadExactlyAsync(buffer, cancellationToken);
        return buffer;
    }

    private async Task<string> ReadHeadersAsync()
    {
        var text = new StringBuilder();
        var one = new byte[1];
        using var timeout = new CancellationTokenSource(TestClient.Timeout);
        while (!text.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            await _stream.ReadExactlyAsync(one, timeout.Token);
            text.Append((char)one[0]);
        }

        return text.ToString();
    }
}
