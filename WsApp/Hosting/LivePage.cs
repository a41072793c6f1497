using Microsoft.AspNetCore.Rewrite;
using Microsoft.Extensions.FileProviders;

namespace ServerlessWs.App.Hosting;

/// <summary>
/// Serves <c>wwwroot</c>: the live page at <c>/</c> and the JavaScript client, <c>serverlessws.js</c>, also at
/// <c>/client.js</c>. Only GET and HEAD of files that exist are answered here; <c>/ws</c> and the health
/// endpoints pass through untouched.
/// </summary>
internal static class LivePage
{
    public static IApplicationBuilder UseLivePage(this IApplicationBuilder app)
    {
        // From the build output rather than the content root: the tests' in-process nodes run with the test
        // project's folder as content root, and `dotnet run` in any environment finds the same files.
        var files = new PhysicalFileProvider(Path.Combine(AppContext.BaseDirectory, "wwwroot"));
        // A WebSocket connect (the hot path) skips the file lookups altogether.
        return app.UseWhen(http => !http.Request.Path.StartsWithSegments("/ws"), page => page
            .UseRewriter(new RewriteOptions().AddRewrite(@"^client\.js$", "serverlessws.js", skipRemainingRules: true))
            .UseDefaultFiles(new DefaultFilesOptions { FileProvider = files })
            .UseStaticFiles(new StaticFileOptions
            {
                FileProvider = files,
                // Revalidate (ETag) on every load, so a page never runs against an older client than the node serves.
                OnPrepareResponse = context => context.Context.Response.Headers.CacheControl = "no-cache",
            }));
    }
}
