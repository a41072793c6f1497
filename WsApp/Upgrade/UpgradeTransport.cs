using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Options;
using ServerlessWs.Core.Options;

namespace ServerlessWs.App.Upgrade;

/// <summary>
/// Kestrel's transport for TCP endpoints, with the WebSocket upgrade served in front of Kestrel. Each accepted
/// socket's first request head is read here: the upgrade <c>GET /ws</c> is served by <see cref="WebSocketFastPath"/>
/// on the bare socket and never becomes a Kestrel connection; any other connection becomes Kestrel's own socket
/// connection, with the bytes read so far put back in front of its input.
/// </summary>
/// <remarks>
/// Why: a Kestrel connection holds ~4 KiB of transport state (two pipes, a receive and a send loop) and is ticked by
/// Kestrel's 1 s heartbeat for as long as it lives, which for an idle WebSocket was the larger part of its cost
/// (docs/performance.md). Endpoints that are not TCP (a Unix socket) keep Kestrel's transport unchanged.
/// </remarks>
internal sealed class UpgradeTransportFactory(IOptions<SocketTransportOptions> options, IOptions<WsOptions> ws, WebSocketFastPath fastPath, ILoggerFactory loggers)
    : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    // <netinet/tcp.h>; .NET names neither.
    private const int IpProtocolTcp = 6;
    private const int TcpDeferAccept = 9;
    private const int DeferAcceptSeconds = 5;

    /// <summary>Registered after Kestrel's socket transport, which Kestrel then asks only for what this one cannot bind.</summary>
    public static void AddTo(WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<WebSocketFastPath>();
        builder.Services.AddSingleton<IConnectionListenerFactory, UpgradeTransportFactory>();
    }

    // Ws:FastUpgrade false: Kestrel binds every endpoint with its own socket transport, registered before this one.
    public bool CanBind(EndPoint endpoint) => endpoint is IPEndPoint && ws.Value.FastUpgrade;

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        var transport = options.Value;
        Socket socket;
        try
        {
            socket = transport.CreateBoundListenSocket(endpoint);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            // The exception Kestrel turns into its "address in use" error (and its localhost fallback).
            throw new AddressInUseException(e.Message, e);
        }

        DeferAcceptUntilData(socket);
        socket.Listen(transport.Backlog);
        var kestrel = new SocketConnectionContextFactory(
            new SocketConnectionFactoryOptions
            {
                IOQueueCount = transport.IOQueueCount,
                WaitForDataBeforeAllocatingBuffer = transport.WaitForDataBeforeAllocatingBuffer,
                MaxReadBufferSize = transport.MaxReadBufferSize,
                MaxWriteBufferSize = transport.MaxWriteBufferSize,
                UnsafePreferInlineScheduling = transport.UnsafePreferInlineScheduling,
            },
            loggers.CreateLogger("Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets"));
        var listener = new UpgradeListener(socket, transport.NoDelay, fastPath, kestrel, loggers.CreateLogger<UpgradeListener>());
        return ValueTask.FromResult<IConnectionListener>(listener);
    }

    /// <summary>
    /// Linux's TCP_DEFER_ACCEPT: the kernel hands a connection over only once its first bytes have arrived. Every
    /// client of this listener speaks first (an HTTP request head), so the head is usually read at once, without a
    /// wait, a timer or another wake of the socket engine: about a tenth less CPU a connect (docs/performance.md). A
    /// client that connects and stays silent is held by the kernel, not by this process, and handed over after
    /// about <see cref="DeferAcceptSeconds"/> (rounded up to the kernel's SYN-ACK retries: 7 s), when the head
    /// timeout starts as before.
    /// </summary>
    private static void DeferAcceptUntilData(Socket socket)
    {
        if (OperatingSystem.IsLinux())
        {
            socket.SetRawSocketOption(IpProtocolTcp, TcpDeferAccept, BitConverter.GetBytes(DeferAcceptSeconds));
        }
    }
}

/// <summary>One bound endpoint: accepts sockets, serves the upgrades, queues the rest for Kestrel.</summary>
internal sealed partial class UpgradeListener : IConnectionListener
{
    private readonly Socket _socket;
    private readonly bool _noDelay;
    private readonly WebSocketFastPath _fastPath;
    private readonly SocketConnectionContextFactory _kestrel;
    private readonly ILogger _logger;
    private readonly Channel<ConnectionContext> _forKestrel = Channel.CreateUnbounded<ConnectionContext>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _accepting;

    public UpgradeListener(Socket socket, bool noDelay, WebSocketFastPath fastPath, SocketConnectionContextFactory kestrel, ILogger logger)
    {
        _socket = socket;
        _noDelay = noDelay;
        _fastPath = fastPath;
        _kestrel = kestrel;
        _logger = logger;
        EndPoint = socket.LocalEndPoint!;
        _accepting = AcceptLoopAsync();
    }

    public EndPoint EndPoint { get; }

    /// <summary>Kestrel's accept loop: the next connection that is not a WebSocket upgrade, or null once unbound.</summary>
    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await _forKestrel.Reader.ReadAsync(cancellationToken);
        }
        catch (ChannelClosedException)
        {
            return null;
        }
    }

    private async Task AcceptLoopAsync()
    {
        while (true)
        {
            Socket client;
            try
            {
                client = await _socket.AcceptAsync();
            }
            catch (Exception e) when (e is ObjectDisposedException or SocketException { SocketErrorCode: SocketError.OperationAborted })
            {
                // Unbound.
                break;
            }
            catch (SocketException)
            {
                // The client reset the connection before it was accepted; so does Kestrel's own listener go on.
                continue;
            }

            client.NoDelay = _noDelay;
            // Off the accept loop, as Kestrel does, so that a head already waiting is parsed while the next is accepted.
            ThreadPool.UnsafeQueueUserWorkItem(static state => _ = state.Listener.ServeAsync(state.Client), (Listener: this, Client: client), preferLocal: false);
        }

        _forKestrel.Writer.TryComplete();
    }

    private async Task ServeAsync(Socket client)
    {
        try
        {
            if (await _fastPath.ServeAsync(client) is not { } readSoFar)
            {
                return;
            }

            var connection = _kestrel.Create(client);
            if (readSoFar.Length > 0)
            {
                connection.Transport = new DuplexPipe(new PrefixedPipeReader(readSoFar, connection.Transport.Input), connection.Transport.Output);
            }

            if (!_forKestrel.Writer.TryWrite(connection))
            {
                // Unbound meanwhile: nobody will serve it.
                await connection.DisposeAsync();
            }
        }
        catch (Exception e)
        {
            LogServeFailed(_logger, e);
            client.Dispose();
        }
    }

    public async ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        _socket.Dispose();
        await _accepting;
    }

    public async ValueTask DisposeAsync()
    {
        await UnbindAsync();
        while (_forKestrel.Reader.TryRead(out var connection))
        {
            await connection.DisposeAsync();
        }

        _kestrel.Dispose();
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Error, Message = "Serving an accepted connection failed")]
    private static partial void LogServeFailed(ILogger logger, Exception exception);
}
