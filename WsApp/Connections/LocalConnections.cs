using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using ServerlessWs.Core.Protocol;
using ServerlessWs.Core.Routing;
using ServerlessWs.Core.Sessions;

namespace ServerlessWs.App.Connections;

/// <summary>
/// The local map of clientId → connection, and this node's commands from the bus (deliver, kick). Ownership itself
/// lives in the <see cref="ISessionStore"/>; this map only says which sockets this node holds. What the bus brings for
/// a connect between its claim and its registration here is held in its window (<see cref="PendingClaims"/>).
/// </summary>
internal sealed class LocalConnections : INodeInbox
{
    private readonly ConcurrentDictionary<string, ClientConnection> _connections = new(StringComparer.Ordinal);
    private readonly PendingClaims _pending = new();

    /// <summary>Sockets this node holds now (the <c>ws.connections</c> gauge).</summary>
    public int Count => _connections.Count;

    public bool IsEmpty => _connections.IsEmpty;

    /// <summary>
    /// Every socket of the node, the map enumerated without its locks: a fan-out to every socket does not hold up
    /// connects meanwhile.
    /// </summary>
    public IEnumerable<ClientConnection> Enumerate() => _connections.Select(c => c.Value);

    /// <summary>Every socket of the node at one moment (the map's snapshot, taken under its locks).</summary>
    public IEnumerable<ClientConnection> Snapshot() => _connections.Values;

    /// <summary>This node's socket for <paramref name="clientId"/>, if it holds one.</summary>
    private bool TryGet(string clientId, [MaybeNullWhen(false)] out ClientConnection connection) =>
        _connections.TryGetValue(clientId, out connection);

    /// <summary>Opens (or joins) the window of <paramref name="clientId"/> before its claim is sent; see <see cref="PendingClaims.Open"/>.</summary>
    public PendingClaims.Window OpenWindow(string clientId) => _pending.Open(clientId);

    /// <summary>Ends one connect's part in its window and returns what was held; see <see cref="PendingClaims.Close"/>.</summary>
    public PendingClaims.Held CloseWindow(PendingClaims.Window window) => _pending.Close(window);

    /// <summary>
    /// Puts the connection in the local map. Of two sockets for one id the newer epoch stays and the other is closed
    /// with 4000 here, whichever order they arrive in: the kick for the older one may come after the newer one has
    /// taken its place in the map, and would then find nothing to close.
    /// </summary>
    public void Register(ClientConnection connection)
    {
        while (true)
        {
            if (_connections.TryAdd(connection.ClientId, connection))
            {
                return;
            }

            if (!_connections.TryGetValue(connection.ClientId, out var existing))
            {
                continue;
            }

            if (existing.Epoch > connection.Epoch)
            {
                connection.RequestClose(CloseCodes.TakenOver, "taken over");
                return;
            }

            if (_connections.TryUpdate(connection.ClientId, connection, existing))
            {
                existing.RequestClose(CloseCodes.TakenOver, "taken over");
                return;
            }
        }
    }

    /// <summary>Takes an ended connection out of the map, unless a newer socket for its id has taken its place.</summary>
    public void Remove(ClientConnection connection) =>
        _connections.TryRemove(KeyValuePair.Create(connection.ClientId, connection));

    // The window before the map: a connect closes its window only after registering, so a doorbell or kick that
    // comes too late for the window finds the connection in the map.
    public void OnDeliver(string clientId, LogEntry entry)
    {
        _pending.Hold(clientId, entry);
        if (TryGet(clientId, out var connection))
        {
            connection.Deliver(entry);
        }
    }

    public void OnKick(string clientId, long maxEpoch, int closeCode)
    {
        _pending.HoldKick(clientId, maxEpoch, closeCode);
        if (TryGet(clientId, out var connection) && connection.Epoch <= maxEpoch)
        {
            Close(connection, closeCode);
        }
    }

    /// <summary>Closes a connection on a kick: 4000 when it was taken over, else as closed by the server.</summary>
    public static void Close(ClientConnection connection, int closeCode) =>
        connection.RequestClose(closeCode, closeCode == CloseCodes.TakenOver ? "taken over" : "closed by the server");
}
