namespace ServerlessWs.Tests.Infrastructure;

/// <summary>Polls a condition that another thread makes true, bounded so that a hang fails fast.</summary>
public static class Eventually
{
    public static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan DefaultInterval = TimeSpan.FromMilliseconds(20);

    public static async Task TrueAsync(Func<Task<bool>> condition, TimeSpan? within = null, string? because = null)
    {
        if (!await WithinAsync(condition, within ?? DefaultWait))
        {
            Assert.Fail(because ?? "The condition did not become true in time.");
        }
    }

    public static Task TrueAsync(Func<bool> condition, TimeSpan? within = null, string? because = null) =>
        TrueAsync(() => Task.FromResult(condition()), within, because);

    /// <summary>
    /// Polls every <paramref name="every"/> until the condition holds or <paramref name="within"/> has passed, and says
    /// whether it held: for checks that report what they found rather than fail on the spot.
    /// </summary>
    public static async Task<bool> WithinAsync(Func<Task<bool>> condition, TimeSpan within, TimeSpan? every = null)
    {
        var deadline = DateTime.UtcNow + within;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(every ?? DefaultInterval);
        }

        return true;
    }

    public static Task<bool> WithinAsync(Func<bool> condition, TimeSpan within, TimeSpan? every = null) =>
        WithinAsync(() => Task.FromResult(condition()), within, every);
}
