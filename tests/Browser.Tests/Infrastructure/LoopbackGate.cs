using System.Net;
using System.Net.Sockets;

namespace ServerlessWs.Browser.Tests.Infrastructure;

/// <summary>
/// A TCP relay on 127.0.0.1 in front of a node that holds every new connection, unanswered, until it is opened.
/// A browser that reconnects through it stays between two nodes for exactly as long as a test needs, so what is
/// sent meanwhile is known to go through the log and the replay, not to race the reconnect.
/// </summary>
public sealed class LoopbackGate : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _upstream;
    private readonly TaskCompletionSource _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _relays = [];
    private readonly Task _accepting;
    private int _accepted;

    public LoopbackGate(Uri upstream)
    {
        _upstream = new IPEndPoint(IPAddress.Parse(upstream.Host), upstream.Port);
        _listener.Start();
        _accepting = AcceptAsync();
    }

    /// <summary><c>host:port</c> of the gate, for a page's <c>?servers=</c>.</summary>
    public string Authority => $"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    /// <summary>Connections accepted so far (held or relayed).</summary>
    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>Relays the held connections and every later one.</summary>
    public void Open() => _opened.TrySetResult();

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            Interlocked.Increment(ref _accepted);
            lock (_relays)
            {
                _relays.Add(RelayAsync(client));
            }
        }
    }

    private async Task RelayAsync(TcpClient client)
    {
        using var downstream = client;
        using var upstream = new TcpClient();
        try
        {
            await _opened.Task.WaitAsync(_stop.Token);
            await upstream.ConnectAsync(_upstream, _stop.Token);
            var a = downstream.GetStream();
            var b = upstream.GetStream();
            // Either side closing ends the relay; the other side then sees its connection close too.
            await Task.WhenAny(a.CopyToAsync(b, _stop.Token), b.CopyToAsync(a, _stop.Token));
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            // The test is over, or a side went away: nothing to relay any more.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        Task[] relays;
        lock (_relays)
        {
            relays = [.. _relays];
        }

        await Task.WhenAll(relays).WaitAsync(TimeSpan.FromSeconds(10));
        _stop.Dispose();
    }
}
