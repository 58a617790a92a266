//! A chat model that needs no model file: it answers every prompt with text given in
//! advance, so that the answer path (evidence, prompt, support check, citations) can be
//! tested on exactly the model text a case needs.

use anyhow::Result;

use crate::{ChatMessage, ChatModel, GenerationParams, GenerationStats};

/// Replies with `reply`, streamed word by word, whatever it is asked; keeps every prompt.
#[derive(Debug, Clone)]
pub struct Scripted {
    /// What [`ChatModel::name`] reports.
    pub name: String,
    /// The text of every reply.
    pub reply: String,
    /// The messages of each call, in order, for tests of what the model was shown.
    pub prompts: Vec<Vec<ChatMessage>>,
}

impl Scripted {
    /// A model named "scripted" that always replies `reply`.
    pub fn new(reply: impl Into<String>) -> Self {
        Self {
            name: "scripted".to_owned(),
            reply: reply.into(),
            prompts: Vec::new(),
        }
    }
}

impl ChatModel for Scripted {
    fn name(&self) -> &str {
        &self.name
    }

    /// Token counts are words, and no time passes. `on_text` returning false stops the
    /// reply where it is, as Ctrl-C stops a local model.
    fn generate(
        &mut self,
        messages: &[ChatMessage],
        params: &GenerationParams,
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> Result<(String, GenerationStats)> {
        self.prompts.push(messages.to_vec());
        let mut text = String::new();
        let mut finish_reason = crate::FinishReason::Stop;
        for (n, piece) in self.reply.split_inclusive(' ').enumerate() {
            if n == params.max_new_tokens {
                finish_reason = crate::FinishReason::Length;
                break;
            }
            text.push_str(piece);
            if !on_text(piece) {
                finish_reason = crate::FinishReason::Interrupted;
                break;
            }
        }
        let stats = GenerationStats {
            prompt_tokens: messages
                .iter()
                .map(|m| m.content.split_whitespace().count())
                .sum(),
            reused_prompt_tokens: 0,
            generated_tokens: text.split_whitespace().count(),
            prompt_seconds: 0.0,
            generation_seconds: 0.0,
            finish_reason,
        };
        Ok((text, stats))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_as_scripted_and_keeps_the_prompt() {
        let mut model = Scripted::new("Notice is 120 days.");
        let mut streamed = String::new();
        let (text, stats) = model
            .generate(
                &[ChatMessage::user("How much notice?")],
                &GenerationParams::default(),
                &mut |piece| {
                    streamed.push_str(piece);
                    true
                },
            )
            .unwrap();
        assert_eq!(
            (text.as_str(), streamed.as_str()),
            ("Notice is 120 days.", "Notice is 120 days.")
        );
        assert_eq!(
            (stats.generated_tokens, stats.finish_reason),
            (4, crate::FinishReason::Stop)
        );
        assert_eq!(model.prompts[0][0].content, "How much notice?");

        let (text, stats) = model
            .generate(&[], &GenerationParams::default(), &mut |_| false)
            .unwrap();
        assert_eq!(
            (text.as_str(), stats.finish_reason),
            ("Notice ", crate::FinishReason::Interrupted)
        );
        let short = GenerationParams {
            max_new_tokens: 2,
            ..GenerationParams::default()
        };
        let (text, stats) = model.generate(&[], &short, &mut |_| true).unwrap();
        assert_eq!(
            (text.as_str(), stats.finish_reason),
            ("Notice is ", crate::FinishReason::Length)
        );
    }
}
