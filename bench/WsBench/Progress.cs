namespace ServerlessWs.Bench;

/// <summary>A one-line progress display on stderr for the long parts of a run.</summary>
internal static class Progress
{
    public static async Task TrackAsync(string label, IReadOnlyCollection<Task> work, Func<int> done, int total)
    {
        var all = Task.WhenAll(work);
        while (!all.IsCompleted)
        {
            Console.Error.Write($"\r{label}: {done()}/{total}   ");
            await Task.WhenAny(all, Task.Delay(500));
        }

        Console.Error.WriteLine($"\r{label}: {done()}/{total}   ");
        await all;
    }

    public static async Task WaitAsync(string label, TimeSpan duration, CancellationToken cancellationToken)
    {
        var end = DateTime.UtcNow + duration;
        for (var left = duration; left > TimeSpan.Zero; left = end - DateTime.UtcNow)
        {
            Console.Error.Write($"\r{label}: {Math.Ceiling(left.TotalSeconds):F0} s left   ");
            // At least 50 ms: a timer may wake a hair early, and the loop must not spin on the last fraction.
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Clamp(left.TotalMilliseconds, 50, 1000)), cancellationToken);
        }

        Console.Error.WriteLine($"\r{label}: done            ");
    }
}
