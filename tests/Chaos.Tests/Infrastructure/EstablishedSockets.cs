using System.Globalization;

namespace ServerlessWs.Chaos.Tests.Infrastructure;

/// <summary>
/// Counts the server side of established TCP connections on a port, from <c>/proc/net/tcp</c> and <c>tcp6</c>:
/// the sockets a node really holds open, whatever the node itself believes.
/// </summary>
public static class EstablishedSockets
{
    private const string Established = "01";
    private static readonly string[] Tables = ["/proc/net/tcp", "/proc/net/tcp6"];

    public static int OnPort(int port) =>
        Tables
            .Where(File.Exists)
            .SelectMany(path => File.ReadLines(path).Skip(1))
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Count(fields => fields[3] == Established && LocalPort(fields[1]) == port);

    // "0100007F:1F90" → 8080
    private static int LocalPort(string address) =>
        int.Parse(address.AsSpan(address.LastIndexOf(':') + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
}
