import MeterrStore
import Testing

@Suite("API keys")
struct APIKeyTests {
    @Test("A key is looked up by the SHA-256 of its text, in lower-case hex")
    func hash() {
        // SHA-256's published test vectors: stored keys' hashes must not change between versions.
        #expect(APIKey.hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(APIKey.hash("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        // A key's UTF-8 bytes, as sent.
        #expect(APIKey.hash("mk_é") == "b5db9670c96f28d80de70b7d0bacd58a836c251ad01f49b8f729bbbc80671f54")
    }
}
