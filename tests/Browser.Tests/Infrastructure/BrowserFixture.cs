using Microsoft.Playwright;

namespace ServerlessWs.Browser.Tests.Infrastructure;

/// <summary>
/// One headless Chromium for the browser tests: the system's (Debian's <c>chromium</c>, which <c>./test.sh</c>
/// installs), driven by Playwright. Playwright's own browser download is never used. A missing browser fails
/// every test that needs it, loudly: these tests are the proof that a real browser speaks the protocol.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    /// <summary>Where Debian's chromium package puts the browser; <c>SERVERLESSWS_CHROMIUM</c> overrides it.</summary>
    public static string ExecutablePath =>
        Environment.GetEnvironmentVariable("SERVERLESSWS_CHROMIUM") is { Length: > 0 } path ? path : "/usr/bin/chromium";

    private IPlaywright? _playwright;
    private IBrowser? _browser;

    public IBrowser Browser => _browser ?? throw new InvalidOperationException("The browser did not start.");

    public async Task InitializeAsync()
    {
        if (!File.Exists(ExecutablePath))
        {
            throw new InvalidOperationException(
                $"Chromium is not at {ExecutablePath}. Install it (`apt-get install chromium`, as ./test.sh does) or set SERVERLESSWS_CHROMIUM.");
        }

        // Expectations poll the page; bounded, so a page that never gets there fails the test rather than hangs it.
        Assertions.SetDefaultExpectTimeout(15_000);
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Timeout = 60_000,
            // The tests run as root in CI, where Chromium's sandbox cannot start.
            Args = ["--no-sandbox"],
        });
    }

    public async Task DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }

        _playwright?.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class OneBrowser : ICollectionFixture<BrowserFixture>
{
    /// <summary>One browser, and one test at a time: pages of two tests must not compete for two cores.</summary>
    public const string Name = "browser";
}
