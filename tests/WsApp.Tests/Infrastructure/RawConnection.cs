using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
namespace ServerlessWs.App.Tests.Infrastructure;

/// <summary>
/// A WebSocket client written by hand over TCP (RFC 6455), for what <c>ClientWebSocket</c> will not do: stay silent to
/// pings, send invalid UTF-8, a request target exactly as given (no URI normalisation), frames with any opcode, flag,
/// mask or payload, fragments interleaved with control frames. Every read is bounded by a timeout.
/// </summary>
public sealed class RawConnection : IDisposable
{
    public const byte OpContinuation = 0x0;
    public const byte OpText = 0x1;
    public const byte OpBinary = 0x2;
    public const byte OpClose = 0x8;
    public const byte OpPing = 0x9;
    public const byte OpPong = 0xA;

    /// <summary>Not an opcode: what <see cref="ReadMessageAsync"/> returns when the server closed or reset TCP without a close frame.</summary>
    public const byte Ended = 0xFF;

    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;

    private RawConnection(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    /// <summary>The HTTP status of the last request's answer: 101 when the upgrade made it a WebSocket.</summary>
    public int Status { get; private set; }

    /// <summary>The last answer's headers, names in lower case.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; private set; } = new Dictionary<string, string>();

    public string? ContentType => Headers.GetValueOrDefault("content-type");

    /// <summary>An upgraded connection to the node's <c>/ws</c> with <paramref name="query"/>; fails the test if it is refused.</summary>
    /// <summary>A masked client frame with a payload under 126 bytes, as raw bytes to send.</summary>
    public static byte[] MaskedFrame(byte opcode, bool fin, ReadOnlySpan<byte> payload)
    {
        var mask = RandomNumberGenerator.GetBytes(4);
        var frame = new byte[6 + payload.Length];
        frame[0] = (byte)((fin ? 0x80 : 0) | opcode);
        frame[1] = (byte)(0x80 | payload.Length);
        mask.CopyTo(frame, 2);
        for (var i = 0; i < payload.Length; i++)
        {
            frame[6 + i] = (byte)(payload[i] ^ mask[i % 4]);
        }

        return frame;
    }

    public static Task<RawConnection> ConnectAsync(WsNode node, string query = "") => ConnectAsync(node.BaseUri, query);

    /// <summary>An upgraded connection to <c>/ws</c> of the node at <paramref name="baseUri"/> (one in its own process too).</summary>
    public static async Task<RawConnection> ConnectAsync(Uri baseUri, string query = "")
    {
        var target = "/ws" + (query.Length > 0 ? "?" + query : string.Empty);
        var connection = await SendHeadAsync(baseUri, UpgradeHead(baseUri, target));
        Assert.Equal(101, connection.Status);
        return connection;
    }

    /// <summary>Sends <c>GET {target}</c> as a WebSocket upgrade, from <paramref name="from"/> (any 127.x address), and reads the answer's head.</summary>
    public static Task<RawConnection> OpenAsync(WsNode node, string target, string? origin = null, IPAddress? from = null) =>
        SendHeadAsync(node, UpgradeHead(node, target, origin is null ? "" : $"Origin: {origin}\r\n"), from: from);

    /// <summary>A well-formed upgrade request head for <paramref name="target"/>, with <paramref name="extraHeaders"/> (CRLF-terminated lines) added.</summary>
    public static string UpgradeHead(WsNode node, string target, string extraHeaders = "") => UpgradeHead(node.BaseUri, target, extraHeaders);

    private static string UpgradeHead(Uri baseUri, string target, string extraHeaders = "") =>
        $"GET {target} HTTP/1.1\r\nHost: {baseUri.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        $"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {Convert.ToBase64String(RandomNumberGenerator.GetBytes(16))}\r\n{extraHeaders}\r\n";

    /// <summary>
    /// Opens a connection, stays silent for <paramref name="silence"/>, and sends <paramref name="head"/> byte for byte as
    /// given, in writes of <paramref name="chunk"/> bytes (each its own TCP segment), then reads the answer's head.
    /// </summary>
    public static Task<RawConnection> SendHeadAsync(WsNode node, string head, int chunk = int.MaxValue, IPAddress? from = null, TimeSpan silence = default) =>
        SendHeadAsync(node.BaseUri, head, chunk, from, silence);

    private static async Task<RawConnection> SendHeadAsync(Uri baseUri, string head, int chunk = int.MaxValue, IPAddress? from = null, TimeSpan silence = default)
    {
        var tcp = new TcpClient(new IPEndPoint(from ?? IPAddress.Loopback, 0)) { NoDelay = true };
        try
        {
            using var timeout = new CancellationTokenSource(TestClient.Timeout);
            await tcp.ConnectAsync(baseUri.Host, baseUri.Port, timeout.Token);
            await Task.Delay(silence, timeout.Token);
            var connection = new RawConnection(tcp);
            await connection.RequestAsync(head, chunk);
            return connection;
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
    }

    /// <summary>Sends another request head on this connection (after the last answer's body was read) and reads the answer's head.</summary>
    public async Task RequestAsync(string head, int chunk = int.MaxValue)
    {
        using var timeout = new CancellationTokenSource(TestClient.Timeout);
        var bytes = Encoding.Latin1.GetBytes(head);
        for (var offset = 0; offset < bytes.Length; offset += chunk)
        {
            await _stream.WriteAsync(bytes.AsMemory(offset, Math.Min(chunk, bytes.Length - offset)), timeout.Token);
            if (chunk < bytes.Length)
            {
                await Task.Delay(1, timeout.Token);
            }
        }

        var lines = await ReadHeadAsync(timeout.Token);
        Status = int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        Headers = lines.Skip(1)
            .Select(l => l.Split(':', 2))
            .GroupBy(p => p[0].Trim().ToLowerInvariant())
            .ToDictionary(g => g.Key, g => g.First()[1].Trim());
    }

    /// <summary>The last answer's body, by its Content-Length or in chunks (RFC 9112 §7.1).</summary>
    public async Task<string> ReadBodyAsync()
    {
        using var timeout = new CancellationTokenSource(TestClient.Timeout);
        if (!Headers.TryGetValue("transfer-encoding", out var encoding) || !encoding.Equals("chunked", StringComparison.OrdinalIgnoreCase))
        {
            var length = int.Parse(Headers.GetValueOrDefault("content-length", "0"), System.Globalization.CultureInfo.InvariantCulture);
            return Encoding.UTF8.GetString(await ReadExactlyAsync(length, timeout.Token));
        }

        var body = new MemoryStream();
        while (true)
        {
            var size = Convert.ToInt32((await ReadLineAsync(timeout.Token)).Split(';')[0], 16);
            body.Write(await ReadExactlyAsync(size, timeout.Token));
            await ReadLineAsync(timeout.Token);
            if (size == 0)
            {
                return Encoding.UTF8.GetString(body.ToArray());
            }
        }
    }

    /// <summary>
    /// Sends one frame; false when the server had already closed or reset the connection (what it said before that
    /// is still there to read). <paramref name="masked"/> false breaks RFC 6455 (a client must mask); <paramref name="rsv"/> sets reserved bits.
    /// </summary>
    public async Task<bool> SendFrameAsync(byte opcode, ReadOnlyMemory<byte> payload, bool fin = true, bool masked = true, byte rsv = 0)
    {
        var header = new List<byte>(14) { (byte)((fin ? 0x80 : 0) | (rsv << 4) | opcode) };
        var maskBit = masked ? 0x80 : 0;
        if (payload.Length < 126)
        {
            header.Add((byte)(maskBit | payload.Length));
        }
        else if (payload.Length <= ushort.MaxValue)
        {
            header.Add((byte)(maskBit | 126));
            header.Add((byte)(payload.Length >> 8));
            header.Add((byte)payload.Length);
        }
        else
        {
            header.Add((byte)(maskBit | 127));
            var length = new byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(length, (ulong)payload.Length);
            header.AddRange(length);
        }

        var body = payload.ToArray();
        if (masked)
        {
            var mask = RandomNumberGenerator.GetBytes(4);
            header.AddRange(mask);
            for (var i = 0; i < body.Length; i++)
            {
                body[i] ^= mask[i % 4];
            }
        }

        using var timeout = new CancellationTokenSource(TestClient.Timeout);
        try
        {
            // Header and payload in separate writes, the payload split too: the server must reassemble across reads.
            await _stream.WriteAsync(header.ToArray(), timeout.Token);
            await _stream.WriteAsync(body.AsMemory(0, body.Length / 2), timeout.Token);
            await _stream.WriteAsync(body.AsMemory(body.Length / 2), timeout.Token);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Writes bytes as they are, for what no frame builder would make; false when the server had already closed.</summary>
    public async Task<bool> SendRawAsync(ReadOnlyMemory<byte> bytes)
    {
        using var timeout = new CancellationTokenSource(TestClient.Timeout);
        try
        {
            await _stream.WriteAsync(bytes, timeout.Token);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>
    /// Reads the next data message or close, answering the server's pings and reassembling fragments;
    /// <see cref="Ended"/> when the connection ended without a close frame, null when nothing came within <paramref name="within"/>.
    /// </summary>
    public async Task<(byte Opcode, byte[] Payload)?> ReadMessageAsync(TimeSpan within, Action<byte[]>? onPong = null)
    {
        using var timeout = new CancellationTokenSource(within);
        var message = new MemoryStream();
        byte? messageOpcode = null;
        try
        {
            while (true)
            {
                var (fin, opcode, payload) = await ReadFrameCoreAsync(timeout.Token);
                switch (opcode)
                {
                    case OpPing:
                        await SendFrameAsync(OpPong, payload);
                        continue;
                    case OpPong:
                        onPong?.Invoke(payload);
                        continue;
                    case OpClose:
                        return (OpClose, payload);
                }

                messageOpcode ??= opcode;
                message.Write(payload);
                if (fin)
                {
                    return (messageOpcode.Value, message.ToArray());
                }
            }
        }
        catch (OperationCanceledException)
        {
            return null;
        }
        catch (Exception e) when (e is EndOfStreamException or IOException)
        {
            return (Ended, []);
        }
    }

    /// <summary>Reads one frame as it comes (pings are not answered); null when the server closed or reset the connection, or nothing came in time.</summary>
    public async Task<(byte Opcode, byte[] Payload)?> ReadFrameAsync(TimeSpan within)
    {
        using var timeout = new CancellationTokenSource(within);
        try
        {
            var (_, opcode, payload) = await ReadFrameCoreAsync(timeout.Token);
            return (opcode, payload);
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or OperationCanceledException)
        {
            // Closed, reset, or nothing within the time (the stream is then unusable for framing: tests stop reading).
            return null;
        }
    }

    /// <summary>The close code of a close frame's payload; 1005 (none given) for an empty one.</summary>
    public static int CloseCode(byte[] payload) => payload.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(payload) : 1005;

    public void Dispose() => _tcp.Dispose();

    private async Task<(bool Fin, byte Opcode, byte[] Payload)> ReadFrameCoreAsync(CancellationToken cancellationToken)
    {
        var head = await ReadExactlyAsync(2, cancellationToken);
        long length = head[1] & 0x7F;
        if (length == 126)
        {
            length = BinaryPrimitives.ReadUInt16BigEndian(await ReadExactlyAsync(2, cancellationToken));
        }
        else if (length == 127)
        {
            length = (long)BinaryPrimitives.ReadUInt64BigEndian(await ReadExactlyAsync(8, cancellationToken));
        }

        return ((head[0] & 0x80) != 0, (byte)(head[0] & 0x0F), await ReadExactlyAsync((int)length, cancellationToken));
    }

    private async Task<byte[]> ReadExactlyAsync(int count, CancellationToken cancellationToken)
    {
        var buffer = new byte[count];
        await _stream.ReadExactlyAsync(buffer, cancellationToken);
        return buffer;
    }

    private async Task<string> ReadLineAsync(CancellationToken cancellationToken)
    {
        var line = new List<byte>();
        while (line.Count < 2 || line[^2] != '\r' || line[^1] != '\n')
        {
            line.Add((await ReadExactlyAsync(1, cancellationToken))[0]);
        }

        return Encoding.Latin1.GetString(line.ToArray(), 0, line.Count - 2);
    }

    /// <summary>The answer's head, line by line so that nothing after it (the first WebSocket frame) is consumed here.</summary>
    private async Task<List<string>> ReadHeadAsync(CancellationToken cancellationToken)
    {
        var lines = new List<string>();
        for (var line = await ReadLineAsync(cancellationToken); line.Length > 0; line = await ReadLineAsync(cancellationToken))
        {
            lines.Add(line);
        }

        return lines;
    }
}
