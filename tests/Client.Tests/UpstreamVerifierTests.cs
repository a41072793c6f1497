using System.Text;
using ServerlessWs.Core.Upstream;

namespace ServerlessWs.Client.Tests;

/// <summary>
/// The verifier against what WsApp's signer writes (WsCore's <see cref="UpstreamRequest"/>, the code a node calls the
/// handler with): valid under each of two rotated keys, rejected when anything signed is changed, attributes read.
/// </summary>
public sealed class UpstreamVerifierTests
{
    private const string OldKey = "the-old-signing-key-of-at-least-32-characters";
    private const string NewKey = "the-new-signing-key-of-at-least-32-characters";

    private static readonly DateTimeOffset At = new(2026, 12, 6, 18, 30, 15, 123, TimeSpan.Zero);

    [Fact]
    public void ACallSignedDuringARotationVerifiesWithEitherKeyAndWithNeitherOther()
    {
        var call = Call([OldKey, NewKey]);

        Assert.Equal(UpstreamVerification.Verified, Verify([OldKey], call));
        Assert.Equal(UpstreamVerification.Verified, Verify([NewKey], call));
        Assert.Equal(UpstreamVerification.BadSignature, Verify(["a-key-nobody-signs-with-of-32-characters"], call));
        // After the rotation the service signs with the new key alone: a handler still knowing both accepts it, one
        // that knows only the old key no longer does.
        var rotated = Call([NewKey]);
        Assert.Equal(UpstreamVerification.Verified, Verify([OldKey, NewKey], rotated));
        Assert.Equal(UpstreamVerification.BadSignature, Verify([OldKey], rotated));
    }

    [Fact]
    public void AChangedBodyCeIdOrSignatureIsRejected()
    {
        var call = Call([OldKey, NewKey]);
        var other = Call([OldKey, NewKey], ceId: "another-id");

        Assert.Equal(UpstreamVerification.BadSignature, Verify([OldKey, NewKey], call with { Body = Encoding.UTF8.GetBytes("""{"text":"hellO"}""") }));
        Assert.Equal(UpstreamVerification.BadSignature, Verify([OldKey, NewKey], call with { Body = [] }));
        Assert.Equal(UpstreamVerification.BadSignature, Verify([OldKey, NewKey], call.With("ce-id", "another-id")));
        Assert.Equal(UpstreamVerification.BadSignature, Verify([OldKey, NewKey], call.With("ce-id", null)));
        // Another call's valid signature does not sign this one.
        Assert.Equal(UpstreamVerification.BadSignature, Verify([OldKey, NewKey], call.With(UpstreamSignature.HeaderName, other.Header(UpstreamSignature.HeaderName))));
        Assert.Equal(UpstreamVerification.BadSignature, Verify([OldKey, NewKey], call.With(UpstreamSignature.HeaderName, null)));
        // One hex digit changed, first or last, in a call signed with one key.
        var single = Call([OldKey]);
        var signature = single.Header(UpstreamSignature.HeaderName)!;
        foreach (var i in new[] { "sha256=".Length, signature.Length - 1 })
        {
            var flipped = signature[..i] + (signature[i] == '0' ? '1' : '0') + signature[(i + 1)..];
            Assert.Equal(UpstreamVerification.BadSignature, Verify([OldKey], single.With(UpstreamSignature.HeaderName, flipped)));
        }

        Assert.Equal(UpstreamVerification.Verified, Verify([OldKey], single));
    }

    [Fact]
    public void TheClientIdAndUserIdOfASignedCallCannotBeChanged()
    {
        // UpstreamEvent says ClientId and UserId can be trusted once verified, and the sample answers a chat to
        // call.ClientId: whoever saw one signed call (a log, a proxy) must not be able to send it again as another.
        var call = Call([OldKey], userId: "alice-subject");

        Assert.Equal(UpstreamVerification.BadSignature, Verify([OldKey], call.With("ce-clientid", "mallory")));
        Assert.Equal(UpstreamVerification.BadSignature, Verify([OldKey], call.With("ce-userid", "admin")));
    }

    [Theory]
    [InlineData("ce-type", "serverlessws.user.admin")]
    [InlineData("ce-source", "/clients/mallory")]
    [InlineData("ce-serverid", "another-node")]
    [InlineData("ce-time", "2026-12-06T18:30:16.000Z")]
    [InlineData(UpstreamSignature.TimestampHeader, "1796581816")]
    public void EverySignedAttributeIsHeldToTheSignature(string header, string value)
    {
        Assert.Equal(UpstreamVerification.BadSignature, Verify([OldKey], Call([OldKey]).With(header, value)));
    }

    [Fact]
    public void ACallSentLongerAgoThanTheToleranceIsStaleEvenWellSigned()
    {
        var call = Call([OldKey]);
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(At);
        var verifier = new UpstreamVerifier([OldKey], clock, TimeSpan.FromMinutes(5));

        clock.Advance(TimeSpan.FromMinutes(4));
        Assert.Equal(UpstreamVerification.Verified, verifier.Verify(call.Header, call.Body).Outcome);
        clock.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(UpstreamVerification.Stale, verifier.Verify(call.Header, call.Body).Outcome);
        Assert.Equal(UpstreamVerification.Stale, verifier.Verify(call.With(UpstreamSignature.TimestampHeader, null).Signed([OldKey]).Header, call.Body).Outcome);
    }

    [Fact]
    public void TheAttributesAreReadAsTheSignerWroteThemAndTheUserIdIsPercentDecoded()
    {
        const string userId = "Zoë \"root\" 100% sure";
        var call = Call([OldKey], userId: userId);

        var e = Read(call);

        Assert.NotEqual(userId, call.Header("ce-userid"));
        Assert.Equal(new UpstreamEvent("ce-1", "serverlessws.user.chat", "/clients/alice", At, "alice", "node-1", userId), e);
        Assert.Equal((UpstreamEventKind.User, "chat"), (e.Kind, e.Name));
        Assert.Null(Read(Call([OldKey])).UserId);
    }

    [Theory]
    [InlineData("serverlessws.sys.disconnected", UpstreamEventKind.Lifecycle, "disconnected")]
    [InlineData("serverlessws.user.time", UpstreamEventKind.User, "time")]
    [InlineData("com.example.other", UpstreamEventKind.Other, "com.example.other")]
    public void TheKindAndNameComeFromTheType(string type, UpstreamEventKind kind, string name)
    {
        var e = Read(Call([OldKey]).With("ce-type", type).Signed([OldKey]));

        Assert.Equal((kind, name), (e.Kind, e.Name));
    }

    [Theory]
    [InlineData("ce-clientid", null)]
    [InlineData("ce-serverid", null)]
    [InlineData("ce-type", null)]
    [InlineData("ce-source", null)]
    [InlineData("ce-time", "yesterday")]
    [InlineData("ce-specversion", "0.3")]
    public void ASignedCallWithoutAnAttributeTheContractRequiresIsBadAttributes(string header, string? value)
    {
        var call = Call([OldKey]).With(header, value).Signed([OldKey]);

        var result = Verifier([OldKey]).Verify(call.Header, call.Body);

        Assert.Equal(new UpstreamVerificationResult(UpstreamVerification.BadAttributes, null), result);
        Assert.False(result.IsVerified);
    }

    [Fact]
    public void AVerifierNeedsAKey()
    {
        Assert.Throws<ArgumentException>(() => new UpstreamVerifier([]));
        Assert.Throws<ArgumentException>(() => new UpstreamVerifier([OldKey, ""]));
    }

    private static UpstreamVerification Verify(string[] keys, SignedCall call) => Verifier(keys).Verify(call.Header, call.Body).Outcome;

    /// <summary>A verifier whose clock reads the calls' send time, <see cref="At"/>.</summary>
    private static UpstreamVerifier Verifier(string[] keys) => new(keys, new Microsoft.Extensions.Time.Testing.FakeTimeProvider(At));

    private static UpstreamEvent Read(SignedCall call)
    {
        var result = Verifier([OldKey]).Verify(call.Header, call.Body);
        Assert.True(result.IsVerified);
        return result.Event;
    }

    /// <summary>A call as a node builds it, signed with <paramref name="keys"/>, its headers as a handler's server sees them.</summary>
    private static SignedCall Call(string[] keys, string ceId = "ce-1", string? userId = null)
    {
        var options = new UpstreamOptions { Url = "http://127.0.0.1/upstream" };
        foreach (var key in keys)
        {
            options.SigningKeys.Add(key);
        }

        var body = Encoding.UTF8.GetBytes("""{"text":"hello"}""");
        using var request = UpstreamRequest.Create(options, ceId, "chat", "alice", "node-1", userId, At, body);
        var headers = request.Headers.Concat(request.Content!.Headers)
            .ToDictionary(h => h.Key, h => (string?)string.Join(',', h.Value), StringComparer.OrdinalIgnoreCase);
        return new SignedCall(headers, body);
    }

    private sealed record SignedCall(IReadOnlyDictionary<string, string?> Headers, byte[] Body)
    {
        public string? Header(string name) => Headers.GetValueOrDefault(name);

        public SignedCall With(string name, string? value) =>
            this with { Headers = new Dictionary<string, string?>(Headers, StringComparer.OrdinalIgnoreCase) { [name] = value } };

        /// <summary>This call signed anew with <paramref name="keys"/> as it now is (a signer that wrote these attributes).</summary>
        public SignedCall Signed(string[] keys) => With(UpstreamSignature.HeaderName, UpstreamSignature.Sign(keys, Header, Body));
    }
}
