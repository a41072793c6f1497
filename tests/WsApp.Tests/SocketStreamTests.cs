using System.Net;
using System.Net.Sockets;
using ServerlessWs.App.Upgrade;

namespace ServerlessWs.App.Tests;

/// <summary>
/// The upgraded socket's stream over a real loopback connection: writes go out at once while the send buffer takes
/// them, and what it does not take is sent once the peer reads, in order and whole.
/// </summary>
public sealed class SocketStreamTests
{
    [Fact]
    public async Task AWriteLargerThanTheSendBufferCompletesOnceThePeerReadsItAllInOrder()
    {
        var (server, client) = await ConnectedPairAsync();
        using var stream = new SocketStream(server);
        using var peer = client;
        server.SendBufferSize = 64 * 1024;
        client.ReceiveBufferSize = 64 * 1024;
        var bytes = new byte[4 * 1024 * 1024];
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)(i * 7 + i / 251);
        }

        var write = stream.WriteAsync(bytes).AsTask();
        await Task.Delay(200);
        Assert.False(write.IsCompleted, "four MiB cannot fit in the buffers of a peer that does not read");

        var received = new byte[bytes.Length];
        var count = 0;
        while (count < received.Length)
        {
            var read = await client.ReceiveAsync(received.AsMemory(count), SocketFlags.None);
            Assert.NotEqual(0, read);
            count += read;
        }

        await write.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(bytes.AsSpan().SequenceEqual(received), "every byte, in order");
    }

    [Fact]
    public async Task SmallWritesCompleteWithoutAWaitAndArriveInOrder()
    {
        var (server, client) = await ConnectedPairAsync();
        using var stream = new SocketStream(server);
        using var peer = client;

        var first = stream.WriteAsync("ab"u8.ToArray());
        var second = stream.WriteAsync("cd"u8.ToArray());

        Assert.True(first.IsCompletedSuccessfully && second.IsCompletedSuccessfully, "sent without a wait");
        var received = new byte[4];
        var count = 0;
        while (count < 4)
        {
            count += await client.ReceiveAsync(received.AsMemory(count), SocketFlags.None);
        }

        Assert.Equal("abcd"u8.ToArray(), received);
    }

    [Fact]
    public async Task AZeroByteReadWaitsForDataAndLeavesItToTheNextRead()
    {
        var (server, client) = await ConnectedPairAsync();
        using var stream = new SocketStream(server);
        using var peer = client;

        var peek = stream.ReadAsync(Memory<byte>.Empty).AsTask();
        await Task.Delay(100);
        Assert.False(peek.IsCompleted, "nothing was sent yet");
        await client.SendAsync("x"u8.ToArray(), SocketFlags.None);

        Assert.Equal(0, await peek.WaitAsync(TimeSpan.FromSeconds(10)));
        var buffer = new byte[4];
        Assert.Equal(1, await stream.ReadAsync(buffer));
        Assert.Equal((byte)'x', buffer[0]);
    }

    [Fact]
    public async Task AWriteToAConnectionThePeerResetFailsWithAnIOException()
    {
        var (server, client) = await ConnectedPairAsync();
        using var stream = new SocketStream(server);
        // Linger 0: the close is a reset, so the next sends fail rather than fill a buffer.
        client.LingerState = new LingerOption(true, 0);
        client.Dispose();
        await Task.Delay(100);

        var error = await Assert.ThrowsAsync<IOException>(async () =>
        {
            for (var i = 0; i < 100; i++)
            {
                await stream.WriteAsync(new byte[1024]);
                await Task.Delay(10);
            }
        });
        Assert.IsType<SocketException>(error.InnerException);
    }

    private static async Task<(Socket Server, Socket Client)> ConnectedPairAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        // As the listener's accepted sockets are (Kestrel's NoDelay): small windows do not wait on delayed ACKs.
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await client.ConnectAsync(listener.LocalEndPoint!);
        var server = await listener.AcceptAsync();
        server.NoDelay = true;
        return (server, client);
    }
}
