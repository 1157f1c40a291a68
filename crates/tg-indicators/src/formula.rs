//! Derived indicators (派生指标): arithmetic over other indicators' values of the same period and
//! region — ratios, sums, shares and per-capita figures. Grammar:
//! `expr := term (('+'|'-') term)*`, `term := factor (('*'|'/') factor)*`,
//! `factor := number | code | sum(expr, …) | '(' expr ')' | '-' factor`.

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Num(f64),
    Var(String),
    Neg(Box<Expr>),
    Bin(char, Box<Expr>, Box<Expr>),
    Sum(Vec<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Ident(String),
    Op(char),
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let c: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch.is_ascii_digit() || ch == '.' {
            let st = i;
            while i < c.len() && (c[i].is_ascii_digit() || c[i] == '.') {
                i += 1;
            }
            let t: String = c[st..i].iter().collect();
            out.push(Tok::Num(t.parse().map_err(|_| format!("无法识别的数字“{t}”"))?));
        } else if ch.is_ascii_alphabetic() || ch == '_' {
            let st = i;
            while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(c[st..i].iter().collect()));
        } else if "+-*/(),".contains(ch) {
            out.push(Tok::Op(ch));
            i += 1;
        } else {
            return Err(format!("公式中有无法识别的字符“{ch}”"));
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn eat(&mut self, op: char) -> bool {
        if self.peek() == Some(&Tok::Op(op)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expr(&mut self) -> Result<Expr, String> {
        let mut e = self.term()?;
        loop {
            if self.eat('+') {
                e = Expr::Bin('+', Box::new(e), Box::new(self.term()?));
            } else if self.eat('-') {
                e = Expr::Bin('-', Box::new(e), Box::new(self.term()?));
            } else {
                return Ok(e);
            }
        }
    }
    fn term(&mut self) -> Result<Expr, String> {
        let mut e = self.factor()?;
        loop {
            if self.eat('*') {
                e = Expr::Bin('*', Box::new(e), Box::new(self.factor()?));
            } else if self.eat('/') {
                e = Expr::Bin('/', Box::new(e), Box::new(self.factor()?));
            } else {
                return Ok(e);
            }
        }
    }
    fn factor(&mut self) -> Result<Expr, String> {
        if self.eat('-') {
            return Ok(Expr::Neg(Box::new(self.factor()?)));
        }
        if self.eat('(') {
            let e = self.expr()?;
            if !self.eat(')') {
                return Err("公式缺少右括号".into());
            }
            return Ok(e);
        }
        match self.toks.get(self.pos).cloned() {
            Some(Tok::Num(n)) => {
                self.pos += 1;
                Ok(Expr::Num(n))
            }
            Some(Tok::Ident(name)) => {
                self.pos += 1;
                if name == "sum" && self.eat('(') {
                    let mut args = vec![self.expr()?];
                    while self.eat(',') {
                        args.push(self.expr()?);
                    }
                    if !self.eat(')') {
                        return Err("sum(…) 缺少右括号".into());
                    }
                    Ok(Expr::Sum(args))
                } else {
                    Ok(Expr::Var(name))
                }
            }
            _ => Err("公式不完整".into()),
        }
    }
}

/// Parses a formula; the error is a Chinese message for the user.
pub fn parse(s: &str) -> Result<Expr, String> {
    if s.len() > 500 {
        return Err("公式不能超过500个字符".into());
    }
    let mut p = Parser { toks: lex(s)?, pos: 0 };
    let e = p.expr()?;
    if p.pos != p.toks.len() {
        return Err("公式中有多余的内容".into());
    }
    Ok(e)
}

impl Expr {
    /// The indicator codes the formula reads, in order of first use.
    pub fn vars(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }
    fn collect(&self, out: &mut Vec<String>) {
        match self {
            Expr::Num(_) => {}
            Expr::Var(v) => {
                if !out.contains(v) {
                    out.push(v.clone());
                }
            }
            Expr::Neg(e) => e.collect(out),
            Expr::Bin(_, a, b) => {
                a.collect(out);
                b.collect(out);
            }
            Expr::Sum(args) => args.iter().for_each(|a| a.collect(out)),
        }
    }

    /// Evaluates with `get` giving each variable's value; a missing input or a division by zero
    /// gives `None` (no value), never infinity.
    pub fn eval(&self, get: &dyn Fn(&str) -> Option<f64>) -> Option<f64> {
        let v = match self {
            Expr::Num(n) => *n,
            Expr::Var(v) => get(v)?,
            Expr::Neg(e) => -e.eval(get)?,
            Expr::Bin(op, a, b) => {
                let (x, y) = (a.eval(get)?, b.eval(get)?);
                match op {
                    '+' => x + y,
                    '-' => x - y,
                    '*' => x * y,
                    _ => {
                        if y == 0.0 {
                            return None;
                        }
                        x / y
                    }
                }
            }
            Expr::Sum(args) => {
                let mut s = 0.0;
                for a in args {
                    s += a.eval(get)?;
                }
                s
            }
        };
        v.is_finite().then_some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_evaluates() {
        let e = parse("gdp / pop * 10000").unwrap();
        assert_eq!(e.vars(), vec!["gdp", "pop"]);
        let get = |v: &str| match v {
            "gdp" => Some(1200.0),
            "pop" => Some(240.0),
            "a" => Some(1.0),
            "b" => Some(2.0),
            _ => None,
        };
        assert_eq!(e.eval(&get), Some(50_000.0));
        assert_eq!(parse("sum(a, b, 3) * -2").unwrap().eval(&get), Some(-12.0));
        assert_eq!(parse("(a + b) / (a - 1)").unwrap().eval(&get), None, "division by zero is no value");
        assert_eq!(parse("a + missing").unwrap().eval(&get), None);
        assert_eq!(parse("a - b - 1").unwrap().eval(&get), Some(-2.0), "left associative");
    }

    #[test]
    fn rejects_bad_formulas() {
        for bad in ["", "a +", "(a", "a b", "a % b", "sum(a", "1..2"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
