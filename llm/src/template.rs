//! Chat templates: the model's own Jinja template from its GGUF metadata, rendered with
//! minijinja, or a known format per architecture when the file carries none (or one that
//! does not render).

use std::collections::HashMap;

use anyhow::Result;
use candle_core::quantized::gguf_file::Value;
use minijinja::{context, Environment, Error, ErrorKind};
use serde::Serialize;

/// One turn of a conversation, as chat templates and OpenAI-compatible servers take it.
#[derive(Debug, Clone, Serialize)]
pub struct ChatMessage {
    /// "system", "user" or "assistant".
    pub role: String,
    /// The turn's text.
    pub content: String,
}

impl ChatMessage {
    /// The instructions that open a conversation.
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: "system".into(),
            content: content.into(),
        }
    }

    /// A turn of the user's.
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: "user".into(),
            content: content.into(),
        }
    }
}

#[derive(Debug, Clone)]
pub enum ChatTemplate {
    Jinja {
        source: String,
        bos_token: String,
        eos_token: String,
        fallback: Fallback,
    },
    Builtin(Fallback),
}

/// Formats used when a GGUF has no usable template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    ChatMl,
    Llama3,
    Gemma,
}

impl ChatTemplate {
    pub fn from_metadata(metadata: &HashMap<String, Value>, architecture: &str) -> Self {
        let token = |key: &str| {
            let id = metadata.get(key).and_then(|v| v.to_u32().ok())?;
            let tokens = metadata.get("tokenizer.ggml.tokens")?.to_vec().ok()?;
            tokens.get(id as usize)?.to_string().ok().cloned()
        };
        let fallback = match architecture {
            "gemma" | "gemma2" | "gemma3" => Fallback::Gemma,
            _ if token("tokenizer.ggml.bos_token_id").as_deref() == Some("<|begin_of_text|>") => {
                Fallback::Llama3
            }
            _ => Fallback::ChatMl,
        };
        match metadata
            .get("tokenizer.chat_template")
            .and_then(|v| v.to_string().ok())
        {
            Some(source) => ChatTemplate::Jinja {
                source: source.clone(),
                bos_token: token("tokenizer.ggml.bos_token_id").unwrap_or_default(),
                eos_token: token("tokenizer.ggml.eos_token_id").unwrap_or_default(),
                fallback,
            },
            None => ChatTemplate::Builtin(fallback),
        }
    }

    /// The prompt text for `messages`, ending where the assistant's reply begins.
    pub fn render(&self, messages: &[ChatMessage]) -> Result<String> {
        match self {
            ChatTemplate::Jinja {
                source,
                bos_token,
                eos_token,
                fallback,
            } => {
                match render_jinja(source, bos_token, eos_token, messages) {
                    Ok(text) => Ok(text),
                    Err(error) => {
                        tracing::warn!("the model's chat template does not render ({error}); using {fallback:?}");
                        Ok(render_builtin(*fallback, messages))
                    }
                }
            }
            ChatTemplate::Builtin(format) => Ok(render_builtin(*format, messages)),
        }
    }
}

fn render_jinja(
    source: &str,
    bos: &str,
    eos: &str,
    messages: &[ChatMessage],
) -> Result<String, Error> {
    let mut env = Environment::new();
    // HF templates are written against Python's Jinja: str.strip(), dict.items() and friends.
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_function(
        "raise_exception",
        |message: String| -> Result<String, Error> {
            Err(Error::new(ErrorKind::InvalidOperation, message))
        },
    );
    env.add_template("chat", source)?;
    env.get_template("chat")?.render(context! {
        messages => messages,
        add_generation_prompt => true,
        bos_token => bos,
        eos_token => eos,
    })
}

fn render_builtin(format: Fallback, messages: &[ChatMessage]) -> String {
    let mut out = String::new();
    match format {
        Fallback::ChatMl => {
            for m in messages {
                out.push_str(&format!(
                    "<|im_start|>{}\n{}<|im_end|>\n",
                    m.role, m.content
                ));
            }
            out.push_str("<|im_start|>assistant\n");
        }
        Fallback::Llama3 => {
            out.push_str("<|begin_of_text|>");
            for m in messages {
                out.push_str(&format!(
                    "<|start_header_id|>{}<|end_header_id|>\n\n{}<|eot_id|>",
                    m.role, m.content
                ));
            }
            out.push_str("<|start_header_id|>assistant<|end_header_id|>\n\n");
        }
        Fallback::Gemma => {
            // Gemma has no system role: the system text leads the first user turn.
            out.push_str("<bos>");
            let mut pending_system = String::new();
            for m in messages {
                match m.role.as_str() {
                    "system" => pending_system = format!("{}\n\n", m.content),
                    role => {
                        let role = if role == "assistant" { "model" } else { role };
                        out.push_str(&format!(
                            "<start_of_turn>{role}\n{}{}<end_of_turn>\n",
                            std::mem::take(&mut pending_system),
                            m.content
                        ));
                    }
                }
            }
            out.push_str("<start_of_turn>model\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMOLLM2_TEMPLATE: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    #[test]
    fn renders_the_smollm2_template_like_chatml() {
        let template = ChatTemplate::Jinja {
            source: SMOLLM2_TEMPLATE.into(),
            bos_token: "<|im_start|>".into(),
            eos_token: "<|im_end|>".into(),
            fallback: Fallback::ChatMl,
        };
        let messages = [ChatMessage::system("Be brief."), ChatMessage::user("Hi?")];
        let rendered = template.render(&messages).unwrap();
        assert_eq!(rendered, render_builtin(Fallback::ChatMl, &messages));
        assert_eq!(
            rendered,
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn a_broken_template_falls_back() {
        let template = ChatTemplate::Jinja {
            source: "{% if %}".into(),
            bos_token: String::new(),
            eos_token: String::new(),
            fallback: Fallback::Gemma,
        };
        let rendered = template
            .render(&[ChatMessage::system("S"), ChatMessage::user("Q")])
            .unwrap();
        assert_eq!(
            rendered,
            "<bos><start_of_turn>user\nS\n\nQ<end_of_turn>\n<start_of_turn>model\n"
        );
    }
}
