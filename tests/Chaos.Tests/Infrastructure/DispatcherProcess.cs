using System.Diagnostics;
using ServerlessWs.Core.Redis;
using ServerlessWs.Tests.Infrastructure;

namespace ServerlessWs.Chaos.Tests.Infrastructure;

/// <summary>
/// The upstream dispatcher as its own OS process (<c>dotnet DispatcherHost.dll</c>, WsFunctions' dispatcher in a plain
/// host, its build copied next to the tests), configured through environment variables, so it can be killed with
/// <c>SIGKILL</c> mid-delivery.
/// </summary>
public sealed class DispatcherProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly OutputTail _output = new();

    private DispatcherProcess(Process process)
    {
        _process = process;
        _output.Follow(process);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public bool HasExited => _process.HasExited;

    /// <summary>The last lines the dispatcher wrote, for a failure message.</summary>
    public string Output => _output.ToString();

    /// <summary>Starts a dispatcher and waits until it holds a partition's lease (or another one does: it runs then).</summary>
    public static async Task<DispatcherProcess> StartAsync(RedisServer redis, IEnumerable<(string Key, object Value)> settings)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "DispatcherHost.dll"));
        start.Environment["Redis__ConnectionString"] = redis.ConnectionString;
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (key, value) in settings)
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture);
        }

        var dispatcher = new DispatcherProcess(Process.Start(start)!);
        await using var client = await redis.ConnectAsync();
        if (!await Eventually.WithinAsync(async () => dispatcher.HasExited || await client.GetDatabase().KeyExistsAsync(RedisKeys.UpstreamLease(0)), TimeSpan.FromSeconds(30))
            || dispatcher.HasExited)
        {
            await dispatcher.DisposeAsync();
            throw new InvalidOperationException($"The dispatcher did not start. Output:\n{dispatcher.Output}");
        }

        return dispatcher;
    }

    /// <summary>A crash: <c>SIGKILL</c>, so nothing is acknowledged or given back on the way out.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await KillAsync();
        }

        _process.Dispose();
    }
}
