using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ServerlessWs.Core.Hosting;

/// <summary>The one way both apps bind a configuration section: bound, checked by its data annotations, checked at start-up.</summary>
public static class OptionsBinding
{
    /// <summary>
    /// Binds <typeparamref name="T"/> to <paramref name="section"/> and validates it (data annotations, plus any
    /// <c>Validate</c> the caller chains) when the host starts, so a bad value stops it with a message naming the key.
    /// </summary>
    public static OptionsBuilder<T> AddValidatedOptions<T>(this IServiceCollection services, IConfiguration configuration, string section)
        where T : class =>
        services.AddOptions<T>()
            .Bind(configuration.GetSection(section))
            .ValidateDataAnnotations()
            .ValidateOnStart();
}
