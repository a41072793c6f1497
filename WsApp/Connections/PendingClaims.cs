using System.Collections.Concurrent;
using ServerlessWs.Core.Sessions;

namespace ServerlessWs.App.Connections;

/// <summary>
/// What the bus brings for a client between its claim and the registration of its socket on this node. The claim
/// reads the log in the same step, so a connect makes one round trip to the store; a message appended after that
/// read rings this node, maybe before the socket is in the node's map, and is held here until it is. So is a kick.
/// </summary>
/// <remarks>
/// A window is opened before the claim is sent, so nothing that rings after the claim can miss it, and closed once
/// the connection is registered (it gets what was held) or the connect failed. Connects of one clientId in progress
/// on this node at once (a client reconnecting to the same node) share one window; each gets everything held in it.
/// </remarks>
internal sealed class PendingClaims
{
    private readonly ConcurrentDictionary<string, Window> _windows = new(StringComparer.Ordinal);

    /// <summary>Opens (or joins) the window of <paramref name="clientId"/>; every call must be paired with <see cref="Close"/>.</summary>
    public Window Open(string clientId)
    {
        while (true)
        {
            var window = _windows.GetOrAdd(clientId, static id => new Window(id));
            lock (window)
            {
                // A window closed by its last connect is on its way out of the map: the next lookup makes a new one.
                if (window.Connects >= 0)
                {
                    window.Connects++;
                    return window;
                }
            }
        }
    }

    /// <summary>Holds a doorbell for the connects of <paramref name="clientId"/> in progress here, if any.</summary>
    public void Hold(string clientId, LogEntry entry)
    {
        if (_windows.TryGetValue(clientId, out var window))
        {
            lock (window)
            {
                if (window.Connects > 0)
                {
                    (window.Entries ??= []).Add(entry);
                }
            }
        }
    }

    /// <summary>Holds a kick (of every claim up to <paramref name="maxEpoch"/>) for the connects of <paramref name="clientId"/> in progress here.</summary>
    public void HoldKick(string clientId, long maxEpoch, int closeCode)
    {
        if (_windows.TryGetValue(clientId, out var window))
        {
            lock (window)
            {
                if (window.Connects > 0 && maxEpoch > window.Kick.MaxEpoch)
                {
                    window.Kick = new HeldKick(maxEpoch, closeCode);
                }
            }
        }
    }

    /// <summary>
    /// Ends one connect's part in its window: after its connection is registered (what rings from now on finds it in
    /// the map) or when the connect failed. Returns what was held meanwhile.
    /// </summary>
    public Held Close(Window window)
    {
        lock (window)
        {
            var held = new Held(window.Entries?.ToArray() ?? [], window.Kick);
            if (--window.Connects == 0)
            {
                window.Connects = -1;
                _windows.TryRemove(KeyValuePair.Create(window.ClientId, window));
            }

            return held;
        }
    }

    /// <summary>One client id's window; its fields are guarded by the window itself.</summary>
    internal sealed class Window(string clientId)
    {
        public string ClientId { get; } = clientId;

        // Connects in progress; -1 once the last one closed it.
        public int Connects;
        public List<LogEntry>? Entries;
        public HeldKick Kick = HeldKick.None;
    }

    /// <summary>A kick of every claim with an epoch up to <see cref="MaxEpoch"/>.</summary>
    internal readonly record struct HeldKick(long MaxEpoch, int CloseCode)
    {
        public static HeldKick None { get; } = new(-1, 0);

        public bool Closes(long epoch) => epoch <= MaxEpoch;
    }

    /// <summary>The doorbells (in arrival order) and the kick a window held.</summary>
    internal readonly record struct Held(LogEntry[] Entries, HeldKick Kick);
}
