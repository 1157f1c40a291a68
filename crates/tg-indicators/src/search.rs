//! 关联搜索: one box over indicators, topics, tags and definitions. Chinese text is segmented with
//! jieba (search mode), ASCII queries also match pinyin initials and full pinyin of names
//! (`kqzl` → 空气质量), and results bring their related indicators along.

use crate::model::{Indicator, Topic, TopicBrief};
use crate::{IndService, Meta};
use pinyin::ToPinyin;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use tg_iam::{IamError, IamResult, Principal};
use utoipa::ToSchema;

fn jieba() -> &'static jieba_rs::Jieba {
    static J: OnceLock<jieba_rs::Jieba> = OnceLock::new();
    J.get_or_init(jieba_rs::Jieba::new)
}

/// Search tokens of a text: jieba's search-mode words without punctuation and single-character
/// function words.
pub fn tokens(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in jieba().cut_for_search(text, true) {
        let w = t.word.trim().to_lowercase();
        if w.is_empty() || w.chars().all(|c| !c.is_alphanumeric()) {
            continue;
        }
        if w.chars().count() == 1 && "的和与及或等在是了率数量".contains(w.as_str()) {
            continue;
        }
        if !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

/// (initials, full pinyin) of a text; non-Chinese characters are kept as they are.
pub fn pinyin_keys(text: &str) -> (String, String) {
    let mut initials = String::new();
    let mut full = String::new();
    for (c, p) in text.chars().zip(text.to_pinyin()) {
        match p {
            Some(p) => {
                initials.push_str(p.first_letter());
                full.push_str(p.plain());
            }
            None if c.is_ascii_alphanumeric() => {
                initials.push(c.to_ascii_lowercase());
                full.push(c.to_ascii_lowercase());
            }
            None => {}
        }
    }
    (initials, full)
}

#[derive(Debug, Default)]
struct Doc {
    name: String,
    name_tokens: Vec<String>,
    initials: String,
    full: String,
    tags: Vec<String>,
    definition: String,
    context: String,
}

/// The search index of one metadata snapshot (built on first use).
#[derive(Debug, Default)]
pub struct Index {
    docs: OnceLock<Vec<Doc>>,
}

impl Index {
    pub fn build(_indicators: &[Arc<Indicator>], _topics: &[Arc<Topic>]) -> Self {
        Self::default()
    }

    fn docs(&self, meta: &Meta) -> &[Doc] {
        self.docs.get_or_init(|| {
            meta.indicators
                .iter()
                .map(|i| {
                    let (initials, full) = pinyin_keys(&i.name);
                    Doc {
                        name: i.name.to_lowercase(),
                        name_tokens: tokens(&i.name),
                        initials,
                        full,
                        tags: i.tags.iter().map(|t| t.to_lowercase()).collect(),
                        definition: i.definition.to_lowercase(),
                        context: format!("{} {}", i.topic_name.clone().unwrap_or_default(), i.catalog_name.clone().unwrap_or_default())
                            .to_lowercase(),
                    }
                })
                .collect()
        })
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IndicatorHit {
    pub indicator: Indicator,
    pub score: f64,
    /// Where it matched: name, pinyin, code, tag, definition, topic.
    pub matched: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TagHit {
    pub tag: String,
    pub count: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DefinitionHit {
    pub code: String,
    pub name: String,
    pub snippet: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SearchResult {
    pub q: String,
    pub tokens: Vec<String>,
    pub indicators: Vec<IndicatorHit>,
    pub topics: Vec<TopicBrief>,
    pub tags: Vec<TagHit>,
    pub definitions: Vec<DefinitionHit>,
    /// Indicators related to the best hits (not hits themselves).
    pub related: Vec<Indicator>,
}

fn snippet(text: &str, word: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let lower: Vec<char> = text.to_lowercase().chars().collect();
    let w: Vec<char> = word.chars().collect();
    let pos = (0..lower.len().saturating_sub(w.len() - 1)).find(|&i| lower.get(i..i + w.len()) == Some(&w[..])).unwrap_or(0);
    let start = pos.saturating_sub(20);
    let end = (pos + w.len() + 30).min(chars.len());
    let mut s: String = chars.get(start..end).map(|c| c.iter().collect()).unwrap_or_default();
    if start > 0 {
        s.insert(0, '…');
    }
    if end < chars.len() {
        s.push('…');
    }
    s
}

impl IndService {
    pub async fn search(&self, actor: &Principal, q: &str) -> IamResult<SearchResult> {
        let q = q.trim();
        if q.is_empty() || q.chars().count() > 50 {
            return Err(IamError::field("q", "请输入1-50字的搜索词"));
        }
        let meta = self.meta().await?;
        let ql = q.to_lowercase();
        let ascii = ql.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ');
        let toks = if ascii { vec![ql.replace(' ', "")] } else { tokens(q) };
        let docs = meta.search.docs(&meta);
        let mut hits: Vec<(f64, usize, Vec<String>)> = Vec::new();
        for (idx, (ind, d)) in meta.indicators.iter().zip(docs).enumerate() {
            if !self.can_see(actor, &meta, ind) {
                continue;
            }
            let mut score = 0.0;
            let mut matched = Vec::new();
            let mut hit = |s: f64, what: &str, score: &mut f64| {
                *score += s;
                if !matched.iter().any(|m| m == what) {
                    matched.push(what.to_owned());
                }
            };
            if d.name.contains(&ql) {
                hit(10.0, "name", &mut score);
            }
            if ascii {
                let k = &toks[0];
                if d.initials.starts_with(k.as_str()) || d.full.starts_with(k.as_str()) {
                    hit(8.0, "pinyin", &mut score);
                } else if k.len() >= 2 && (d.initials.contains(k.as_str()) || d.full.contains(k.as_str())) {
                    hit(5.0, "pinyin", &mut score);
                }
                if ind.code.contains(k.as_str()) {
                    hit(4.0, "code", &mut score);
                }
            }
            for t in &toks {
                if d.name_tokens.contains(t) || d.name.contains(t.as_str()) {
                    hit(3.0, "name", &mut score);
                }
                if d.tags.iter().any(|x| x.contains(t.as_str())) {
                    hit(3.0, "tag", &mut score);
                }
                if d.definition.contains(t.as_str()) {
                    hit(1.0, "definition", &mut score);
                }
                if d.context.contains(t.as_str()) {
                    hit(1.5, "topic", &mut score);
                }
            }
            if score > 0.0 {
                if ind.is_key {
                    score += 0.5;
                }
                hits.push((score, idx, matched));
            }
        }
        hits.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal).then(a.1.cmp(&b.1)));
        hits.truncate(30);
        let mut tags: BTreeMap<String, i64> = BTreeMap::new();
        let mut definitions = Vec::new();
        for (ind, d) in meta.indicators.iter().zip(docs) {
            if !self.can_see(actor, &meta, ind) {
                continue;
            }
            for (tag, tl) in ind.tags.iter().zip(&d.tags) {
                if toks.iter().any(|t| tl.contains(t.as_str())) || tl.contains(&ql) {
                    *tags.entry(tag.clone()).or_default() += 1;
                }
            }
            if definitions.len() < 10 {
                if let Some(t) = toks.iter().find(|t| t.chars().count() > 1 && d.definition.contains(t.as_str())) {
                    definitions.push(DefinitionHit {
                        code: ind.code.clone(),
                        name: ind.name.clone(),
                        snippet: snippet(&ind.definition, t),
                    });
                }
            }
        }
        let topic_list = self.topics(actor).await?;
        let topics: Vec<TopicBrief> = topic_list
            .into_iter()
            .filter(|t| {
                let name = t.name.to_lowercase();
                let (ini, full) = pinyin_keys(&t.name);
                name.contains(&ql)
                    || toks.iter().any(|k| name.contains(k.as_str()) || t.description.to_lowercase().contains(k.as_str()))
                    || (ascii && (ini.starts_with(&toks[0]) || full.starts_with(&toks[0])))
            })
            .collect();
        let hit_ids: Vec<i64> = hits.iter().map(|h| meta.indicators[h.1].id).collect();
        let mut related: Vec<Indicator> = Vec::new();
        for id in hit_ids.iter().take(5) {
            for (from, to, _) in &meta.relations {
                let other = if from == id {
                    *to
                } else if to == id {
                    *from
                } else {
                    continue;
                };
                if hit_ids.contains(&other) || related.iter().any(|r| r.id == other) {
                    continue;
                }
                if let Some(o) = meta.indicator_by_id(other).filter(|o| self.can_see(actor, &meta, o)) {
                    related.push((**o).clone());
                }
            }
        }
        Ok(SearchResult {
            q: q.to_owned(),
            tokens: toks,
            indicators: hits
                .into_iter()
                .map(|(score, idx, matched)| IndicatorHit { indicator: (*meta.indicators[idx]).clone(), score, matched })
                .collect(),
            topics,
            tags: tags.into_iter().map(|(tag, count)| TagHit { tag, count }).collect(),
            definitions,
            related,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_chinese_and_builds_pinyin_keys() {
        let t = tokens("空气质量指数");
        assert!(t.contains(&"空气".to_string()) && t.contains(&"质量".to_string()), "{t:?}");
        assert_eq!(pinyin_keys("空气质量(AQI)").0, "kqzlaqi");
        assert_eq!(pinyin_keys("税收").1, "shuishou");
    }
}
