/// Constants of one encoding: resource, published hash, scanner, special tokens (tiktoken_ext/openai_public.py,
/// mistral-common's Tekkenizer).
struct EncodingSpec: Sendable {
    let resource: String
    let sha256: String
    let pattern: PatternKind
    let idOffset: Int
    let vocabularyLimit: Int
    let specialTokens: [String: Int]

    static func of(_ encoding: Encoding) -> EncodingSpec {
        switch encoding {
        case .o200kBase:
            EncodingSpec(
                resource: "o200k_base",
                sha256: "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
                pattern: .o200k(contractions: true, maxDigits: 3),
                idOffset: 0,
                vocabularyLimit: .max,
                specialTokens: ["<|endoftext|>": 199_999, "<|endofprompt|>": 200_018]
            )
        case .cl100kBase:
            EncodingSpec(
                resource: "cl100k_base",
                sha256: "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
                pattern: .cl100k,
                idOffset: 0,
                vocabularyLimit: .max,
                specialTokens: [
                    "<|endoftext|>": 100_257, "<|fim_prefix|>": 100_258, "<|fim_middle|>": 100_259,
                    "<|fim_suffix|>": 100_260, "<|endofprompt|>": 100_276,
                ]
            )
        case .tekken:
            // scripts/tokenizer/make_vocab.py: the 130,072 BPE ranks of tekken_240911.json in .tiktoken form.
            EncodingSpec(
                resource: "tekken_240911",
                sha256: "64a081edb3cbb8639a4eea9a7135ab9a0467c50676c672b217ba655f4d50e127",
                pattern: .o200k(contractions: false, maxDigits: 1),
                idOffset: 1000,
                vocabularyLimit: 130_072,
                specialTokens: [
                    "<unk>": 0, "<s>": 1, "</s>": 2, "[INST]": 3, "[/INST]": 4, "[AVAILABLE_TOOLS]": 5,
                    "[/AVAILABLE_TOOLS]": 6, "[TOOL_RESULTS]": 7, "[/TOOL_RESULTS]": 8, "[TOOL_CALLS]": 9,
                    "[IMG]": 10, "<pad>": 11, "[IMG_BREAK]": 12, "[IMG_END]": 13, "[PREFIX]": 14, "[MIDDLE]": 15,
                    "[SUFFIX]": 16, "[SYSTEM_PROMPT]": 17, "[/SYSTEM_PROMPT]": 18, "[TOOL_CONTENT]": 19,
                ]
            )
        }
    }
}
