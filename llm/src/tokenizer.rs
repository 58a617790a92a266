//! A `tokenizers::Tokenizer` built from a GGUF file's own vocabulary, since GGUF files carry
//! no tokenizer.json.
//!
//! Two families are handled, as llama.cpp names them in `tokenizer.ggml.model`:
//! - `gpt2`: byte-level BPE with explicit merges (SmolLM2, Llama 3, Qwen2). The pre-tokenizer
//!   comes from `tokenizer.ggml.pre`, because the split rules differ per model family
//!   (SmolLM2 splits digits one by one, Llama 3 groups up to three, Qwen2 one).
//! - `llama`: SentencePiece-style BPE with byte fallback (Llama 2, Mistral, Gemma). GGUF
//!   keeps only token scores, so merges are derived from them the way the HF converters do.
//!
//! The tokenizer is assembled as tokenizer.json (the documented format) and parsed by the
//! `tokenizers` crate, so no hand-written tokenization code stands in for the real one.

use std::collections::HashMap;

use anyhow::{bail, Context, Result};
use candle_core::quantized::gguf_file::Value;
use serde_json::{json, Value as Json};
use tokenizers::Tokenizer;

/// llama.cpp's token types: 3 is CONTROL (special), 4 USER_DEFINED (added, not special).
const TOKEN_TYPE_CONTROL: i32 = 3;
const TOKEN_TYPE_USER_DEFINED: i32 = 4;

const LLAMA3_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN2_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

pub fn from_gguf(metadata: &HashMap<String, Value>) -> Result<Tokenizer> {
    let json = tokenizer_json(metadata)?;
    Tokenizer::from_bytes(serde_json::to_vec(&json)?)
        .map_err(|e| anyhow::anyhow!("building the tokenizer from GGUF metadata: {e}"))
}

fn strings(metadata: &HashMap<String, Value>, key: &str) -> Result<Option<Vec<String>>> {
    list(metadata, key, |v| v.to_string().cloned())
}

fn list<T>(
    metadata: &HashMap<String, Value>,
    key: &str,
    convert: impl Fn(&Value) -> candle_core::Result<T>,
) -> Result<Option<Vec<T>>> {
    let Some(value) = metadata.get(key) else {
        return Ok(None);
    };
    let list = value
        .to_vec()
        .with_context(|| format!("{key} is not a list"))?;
    list.iter()
        .map(|v| convert(v).with_context(|| format!("{key} holds a value of another type")))
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

pub fn tokenizer_json(metadata: &HashMap<String, Value>) -> Result<Json> {
    let model_kind = metadata
        .get("tokenizer.ggml.model")
        .and_then(|v| v.to_string().ok())
        .map(String::as_str)
        .unwrap_or("gpt2");
    let tokens = strings(metadata, "tokenizer.ggml.tokens")?
        .context("the GGUF has no tokenizer.ggml.tokens: it carries no vocabulary")?;
    let types = list(metadata, "tokenizer.ggml.token_type", |v| v.to_i32())?;

    let added_tokens: Vec<Json> = tokens
        .iter()
        .enumerate()
        .filter_map(|(id, content)| {
            let kind = types.as_ref()?.get(id).copied()?;
            matches!(kind, TOKEN_TYPE_CONTROL | TOKEN_TYPE_USER_DEFINED).then(|| {
                json!({
                    "id": id, "content": content, "single_word": false, "lstrip": false,
                    "rstrip": false, "normalized": false, "special": kind == TOKEN_TYPE_CONTROL,
                })
            })
        })
        .collect();
    let vocab: serde_json::Map<String, Json> = tokens
        .iter()
        .enumerate()
        .map(|(id, t)| (t.clone(), json!(id)))
        .collect();

    let (model, normalizer, pre_tokenizer, decoder) = match model_kind {
        "gpt2" => {
            let merges = strings(metadata, "tokenizer.ggml.merges")?
                .context("a gpt2-style GGUF tokenizer needs tokenizer.ggml.merges")?;
            let pre = metadata
                .get("tokenizer.ggml.pre")
                .and_then(|v| v.to_string().ok())
                .map(String::as_str)
                .unwrap_or("default");
            let byte_level = |use_regex: bool| json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": use_regex});
            let split = |pattern: &str| json!({"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": false});
            let pre_tokenizer = match pre {
                "smollm" => json!({"type": "Sequence", "pretokenizers": [
                    {"type": "Digits", "individual_digits": true}, byte_level(true)]}),
                "llama-bpe" | "llama3" => json!({"type": "Sequence", "pretokenizers": [
                    split(LLAMA3_SPLIT), byte_level(false)]}),
                "qwen2" => json!({"type": "Sequence", "pretokenizers": [
                    split(QWEN2_SPLIT), byte_level(false)]}),
                _ => byte_level(true),
            };
            let model = json!({
                "type": "BPE", "dropout": null, "unk_token": null,
                "continuing_subword_prefix": null, "end_of_word_suffix": null,
                "fuse_unk": false, "byte_fallback": false, "ignore_merges": pre == "llama-bpe",
                "vocab": vocab, "merges": merges,
            });
            (model, Json::Null, pre_tokenizer, byte_level(true))
        }
        "llama" => {
            let scores = list(metadata, "tokenizer.ggml.scores", |v| v.to_f32())?
                .context("a SentencePiece-style GGUF tokenizer needs tokenizer.ggml.scores")?;
            let merges = match strings(metadata, "tokenizer.ggml.merges")? {
                Some(merges) => merges,
                None => merges_from_scores(&tokens, &scores, types.as_deref()),
            };
            let unk = metadata
                .get("tokenizer.ggml.unknown_token_id")
                .and_then(|v| v.to_u32().ok())
                .and_then(|id| tokens.get(id as usize).cloned())
                .unwrap_or_else(|| "<unk>".to_owned());
            let add_space_prefix = metadata
                .get("tokenizer.ggml.add_space_prefix")
                .and_then(|v| v.to_bool().ok())
                .unwrap_or(true);
            let mut normalizers = Vec::new();
            if add_space_prefix {
                normalizers.push(json!({"type": "Prepend", "prepend": "▁"}));
            }
            normalizers
                .push(json!({"type": "Replace", "pattern": {"String": " "}, "content": "▁"}));
            let mut decoders = vec![
                json!({"type": "Replace", "pattern": {"String": "▁"}, "content": " "}),
                json!({"type": "ByteFallback"}),
                json!({"type": "Fuse"}),
            ];
            if add_space_prefix {
                decoders.push(json!({"type": "Strip", "content": " ", "start": 1, "stop": 0}));
            }
            let model = json!({
                "type": "BPE", "dropout": null, "unk_token": unk,
                "continuing_subword_prefix": null, "end_of_word_suffix": null,
                "fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
                "vocab": vocab, "merges": merges,
            });
            (
                model,
                json!({"type": "Sequence", "normalizers": normalizers}),
                Json::Null,
                json!({"type": "Sequence", "decoders": decoders}),
            )
        }
        other => bail!("GGUF tokenizer type {other:?} is not supported (gpt2 and llama are)"),
    };

    Ok(json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added_tokens,
        "normalizer": normalizer,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": null,
        "decoder": decoder,
        "model": model,
    }))
}

/// SentencePiece BPE ranks a merge by the score of the piece it produces. Every split of every
/// normal piece into two pieces that are both in the vocabulary is a merge; higher score first.
fn merges_from_scores(tokens: &[String], scores: &[f32], types: Option<&[i32]>) -> Vec<String> {
    let ids: HashMap<&str, usize> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.as_str(), i))
        .collect();
    let mut merges: Vec<(f32, usize, usize, String)> = Vec::new();
    for (id, piece) in tokens.iter().enumerate() {
        let normal = types.and_then(|t| t.get(id)).is_none_or(|&t| t == 1);
        if !normal || piece.chars().count() < 2 {
            continue;
        }
        let score = scores.get(id).copied().unwrap_or(0.0);
        for (split, _) in piece.char_indices().skip(1) {
            let (left, right) = piece.split_at(split);
            if let (Some(&l), Some(&r)) = (ids.get(left), ids.get(right)) {
                merges.push((score, l, r, format!("{left} {right}")));
            }
        }
    }
    merges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    merges.into_iter().map(|m| m.3).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string_list(items: &[&str]) -> Value {
        Value::Array(
            items
                .iter()
                .map(|s| Value::String((*s).to_owned()))
                .collect(),
        )
    }

    /// The model `make models` installs; these tests read the real file.
    fn shipped_tokenizer() -> Tokenizer {
        tokenizer_of(crate::DEFAULT_MODEL)
    }

    /// A GGUF under models/ (`make models` installs SmolLM2 and Gemma 3 270M).
    fn tokenizer_of(relative: &str) -> Tokenizer {
        let path = crate::test_models().join(relative);
        let mut file = std::fs::File::open(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run `make models`)", path.display()));
        let content = candle_core::quantized::gguf_file::Content::read(&mut file).unwrap();
        from_gguf(&content.metadata).unwrap()
    }

    #[test]
    fn the_shipped_gguf_tokenizer_round_trips_a_stress_string() {
        let tokenizer = shipped_tokenizer();
        let stress = "Invoice #2024-0042: $1,234,567.89 due 2025-01-31\t\tcafé naïve Ærøskøbing \
                      日本語のテキスト 😀👍🏽 — “quotes” ‘too’  double  spaces   triple\n\nnew\r\nlines \
                      <|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<|endoftext|> \u{200b}end ";
        let encoding = tokenizer.encode(stress, false).unwrap();
        assert_eq!(tokenizer.decode(encoding.get_ids(), false).unwrap(), stress);
    }

    #[test]
    fn the_shipped_tokenizer_keeps_chat_markers_whole_and_splits_digits() {
        let tokenizer = shipped_tokenizer();
        let ids = tokenizer
            .encode("<|im_start|>user", false)
            .unwrap()
            .get_ids()
            .to_vec();
        assert_eq!(ids[0], tokenizer.token_to_id("<|im_start|>").unwrap());
        let digits = tokenizer.encode("2024", false).unwrap();
        assert_eq!(
            digits.get_ids().len(),
            4,
            "SmolLM2 splits digits one by one"
        );
    }

    #[test]
    fn the_gemma_sentencepiece_tokenizer_round_trips_and_merges_words() {
        let tokenizer = tokenizer_of("llm/gemma-3-270m-q4_k_m.gguf");
        let stress = "Invoice #2024-0042: $1,234,567.89 due 2025-01-31\t\tcafé naïve Ærøskøbing \
                      日本語のテキスト 😀👍🏽 — “quotes” ‘too’  double  spaces   triple\n\nnew\r\nlines \
                      <start_of_turn>user\nhi<end_of_turn>\n<start_of_turn>model\n \u{200b}end ";
        let encoding = tokenizer.encode(stress, false).unwrap();
        assert_eq!(tokenizer.decode(encoding.get_ids(), false).unwrap(), stress);
        // Turn markers are single control tokens (ids from the file's own vocabulary).
        let ids = tokenizer
            .encode("<start_of_turn>model\n", false)
            .unwrap()
            .get_ids()
            .to_vec();
        assert_eq!(ids[0], 105, "{ids:?}");
        assert_eq!(tokenizer.token_to_id("<end_of_turn>"), Some(106));
        // Merges derived from the scores join common words into one piece each.
        let sentence = "The agreement may be terminated for convenience with written notice.";
        let words = tokenizer.encode(sentence, false).unwrap();
        assert!(words.get_ids().len() <= 12, "{:?}", words.get_tokens());
        assert!(
            words.get_tokens().contains(&"▁agreement".to_owned()),
            "{:?}",
            words.get_tokens()
        );
    }

    #[test]
    fn sentencepiece_merges_follow_scores() {
        let tokens: Vec<String> = ["▁", "a", "b", "ab", "▁ab"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let merges = merges_from_scores(&tokens, &[0.0, 0.0, 0.0, -1.0, -2.0], None);
        assert_eq!(merges, vec!["a b".to_owned(), "▁ ab".to_owned()]);
    }

    #[test]
    fn a_tiny_sentencepiece_vocabulary_round_trips() {
        let mut md = HashMap::new();
        md.insert("tokenizer.ggml.model".into(), Value::String("llama".into()));
        let mut pieces = vec!["<unk>", "<s>", "</s>", "▁", "a", "b", "ab", "▁ab"];
        let bytes: Vec<String> = (0..=255u8).map(|b| format!("<0x{b:02X}>")).collect();
        pieces.extend(bytes.iter().map(String::as_str));
        md.insert("tokenizer.ggml.tokens".into(), string_list(&pieces));
        let mut types = vec![Value::I32(2), Value::I32(3), Value::I32(3)];
        types.extend((3..8).map(|_| Value::I32(1)));
        types.extend((0..256).map(|_| Value::I32(6)));
        md.insert("tokenizer.ggml.token_type".into(), Value::Array(types));
        let mut scores = vec![Value::F32(0.0); pieces.len()];
        scores[6] = Value::F32(-1.0);
        scores[7] = Value::F32(-2.0);
        md.insert("tokenizer.ggml.scores".into(), Value::Array(scores));
        let tokenizer = from_gguf(&md).unwrap();
        let text = "ab ab é";
        let ids = tokenizer.encode(text, false).unwrap().get_ids().to_vec();
        assert!(ids.contains(&7), "▁ab should be one token: {ids:?}");
        assert_eq!(tokenizer.decode(&ids, false).unwrap(), text);
    }
}
