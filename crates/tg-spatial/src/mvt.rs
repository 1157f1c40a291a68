//! Mapbox Vector Tile 2.1 encoding (protobuf written by hand: the format is small and a
//! direct writer avoids an intermediate object tree), with clipping of lines and polygons to
//! the tile plus a buffer, and ring orientation as the specification requires.

use std::collections::HashMap;

/// The default tile extent.
pub const EXTENT: u32 = 4096;
/// Pixels (in extent units) drawn beyond the tile edge so symbols and strokes join seamlessly.
pub const BUFFER: i32 = 64;

/// A property value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(String),
    Int(i64),
    Double(f64),
    Bool(bool),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ValueKey {
    S(String),
    I(i64),
    D(u64),
    B(bool),
}

impl Value {
    fn key(&self) -> ValueKey {
        match self {
            Value::String(s) => ValueKey::S(s.clone()),
            Value::Int(i) => ValueKey::I(*i),
            Value::Double(d) => ValueKey::D(d.to_bits()),
            Value::Bool(b) => ValueKey::B(*b),
        }
    }
}

/// Geometry in tile coordinates (0..extent, y down).
#[derive(Debug, Clone, PartialEq)]
pub enum TileGeometry {
    Points(Vec<(i32, i32)>),
    Lines(Vec<Vec<(i32, i32)>>),
    /// Rings of one or more polygons: each exterior ring followed by its holes.
    Polygons(Vec<Vec<(i32, i32)>>),
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn key(out: &mut Vec<u8>, field: u32, wire: u8) {
    varint(out, ((field as u64) << 3) | wire as u64);
}

fn bytes_field(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    key(out, field, 2);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn zigzag(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

/// Builds one layer of a tile.
#[derive(Debug, Clone)]
pub struct LayerBuilder {
    name: String,
    extent: u32,
    keys: Vec<String>,
    key_index: HashMap<String, u32>,
    values: Vec<Value>,
    value_index: HashMap<ValueKey, u32>,
    features: Vec<u8>,
    count: usize,
}

impl LayerBuilder {
    pub fn new(name: &str) -> Self {
        LayerBuilder {
            name: name.to_string(),
            extent: EXTENT,
            keys: Vec::new(),
            key_index: HashMap::new(),
            values: Vec::new(),
            value_index: HashMap::new(),
            features: Vec::new(),
            count: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Adds a feature; geometry that is empty after encoding is skipped.
    pub fn add(&mut self, id: Option<u64>, geometry: &TileGeometry, props: &[(&str, Value)]) {
        let (ty, cmds) = match geometry {
            TileGeometry::Points(p) => (1u64, encode_points(p)),
            TileGeometry::Lines(l) => (2, encode_lines(l)),
            TileGeometry::Polygons(r) => (3, encode_rings(r)),
        };
        if cmds.is_empty() {
            return;
        }
        let mut tags = Vec::with_capacity(props.len() * 2);
        for (k, v) in props {
            let ki = match self.key_index.get(*k) {
                Some(i) => *i,
                None => {
                    let i = self.keys.len() as u32;
                    self.keys.push(k.to_string());
                    self.key_index.insert(k.to_string(), i);
                    i
                }
            };
            let vk = v.key();
            let vi = match self.value_index.get(&vk) {
                Some(i) => *i,
                None => {
                    let i = self.values.len() as u32;
                    self.values.push(v.clone());
                    self.value_index.insert(vk, i);
                    i
                }
            };
            tags.push(ki);
            tags.push(vi);
        }
        let mut f = Vec::with_capacity(16 + cmds.len() * 2);
        if let Some(id) = id {
            key(&mut f, 1, 0);
            varint(&mut f, id);
        }
        if !tags.is_empty() {
            let mut packed = Vec::new();
            for t in tags {
                varint(&mut packed, t as u64);
            }
            bytes_field(&mut f, 2, &packed);
        }
        key(&mut f, 3, 0);
        varint(&mut f, ty);
        let mut packed = Vec::with_capacity(cmds.len() * 2);
        for c in cmds {
            varint(&mut packed, c as u64);
        }
        bytes_field(&mut f, 4, &packed);
        bytes_field(&mut self.features, 2, &f);
        self.count += 1;
    }

    fn encode(&self) -> Vec<u8> {
        let mut l = Vec::with_capacity(self.features.len() + 64);
        key(&mut l, 15, 0);
        varint(&mut l, 2);
        bytes_field(&mut l, 1, self.name.as_bytes());
        l.extend_from_slice(&self.features);
        for k in &self.keys {
            bytes_field(&mut l, 3, k.as_bytes());
        }
        for v in &self.values {
            let mut vb = Vec::new();
            match v {
                Value::String(s) => bytes_field(&mut vb, 1, s.as_bytes()),
                Value::Double(d) => {
                    key(&mut vb, 3, 1);
                    vb.extend_from_slice(&d.to_le_bytes());
                }
                Value::Int(i) => {
                    key(&mut vb, 6, 0);
                    varint(&mut vb, ((i << 1) ^ (i >> 63)) as u64);
                }
                Value::Bool(b) => {
                    key(&mut vb, 7, 0);
                    varint(&mut vb, *b as u64);
                }
            }
            bytes_field(&mut l, 4, &vb);
        }
        key(&mut l, 5, 0);
        varint(&mut l, self.extent as u64);
        l
    }
}

/// Encodes layers into a tile. Empty layers are left out.
pub fn encode_tile(layers: &[LayerBuilder]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in layers.iter().filter(|l| !l.is_empty()) {
        bytes_field(&mut out, 3, &l.encode());
    }
    out
}

fn command(id: u32, count: usize) -> u32 {
    (id & 7) | ((count as u32) << 3)
}

fn encode_points(p: &[(i32, i32)]) -> Vec<u32> {
    if p.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(1 + p.len() * 2);
    out.push(command(1, p.len()));
    let (mut cx, mut cy) = (0, 0);
    for &(x, y) in p {
        out.push(zigzag(x - cx));
        out.push(zigzag(y - cy));
        (cx, cy) = (x, y);
    }
    out
}

fn dedup(part: &[(i32, i32)]) -> Vec<(i32, i32)> {
    let mut v: Vec<(i32, i32)> = Vec::with_capacity(part.len());
    for &p in part {
        if v.last() != Some(&p) {
            v.push(p);
        }
    }
    v
}

fn encode_lines(lines: &[Vec<(i32, i32)>]) -> Vec<u32> {
    let mut out = Vec::new();
    let (mut cx, mut cy) = (0, 0);
    for line in lines {
        let l = dedup(line);
        if l.len() < 2 {
            continue;
        }
        out.push(command(1, 1));
        out.push(zigzag(l[0].0 - cx));
        out.push(zigzag(l[0].1 - cy));
        (cx, cy) = l[0];
        out.push(command(2, l.len() - 1));
        for &(x, y) in &l[1..] {
            out.push(zigzag(x - cx));
            out.push(zigzag(y - cy));
            (cx, cy) = (x, y);
        }
    }
    out
}

/// Twice the signed area in tile coordinates (positive = clockwise on screen = exterior).
pub fn ring_area2(r: &[(i32, i32)]) -> i64 {
    let n = r.len();
    let mut s = 0i64;
    for i in 0..n {
        let (x0, y0) = r[i];
        let (x1, y1) = r[(i + 1) % n];
        s += x0 as i64 * y1 as i64 - x1 as i64 * y0 as i64;
    }
    s
}

fn encode_rings(rings: &[Vec<(i32, i32)>]) -> Vec<u32> {
    let mut out = Vec::new();
    let (mut cx, mut cy) = (0, 0);
    for ring in rings {
        let mut r = dedup(ring);
        if r.len() > 1 && r.first() == r.last() {
            r.pop();
        }
        if r.len() < 3 || ring_area2(&r) == 0 {
            continue;
        }
        out.push(command(1, 1));
        out.push(zigzag(r[0].0 - cx));
        out.push(zigzag(r[0].1 - cy));
        (cx, cy) = r[0];
        out.push(command(2, r.len() - 1));
        for &(x, y) in &r[1..] {
            out.push(zigzag(x - cx));
            out.push(zigzag(y - cy));
            (cx, cy) = (x, y);
        }
        out.push(command(7, 1));
    }
    out
}

/// Clips a polygon ring (tile frame, floats) to the square [-buffer, extent+buffer]
/// (Sutherland–Hodgman) and rounds it; orients it as exterior (`true`) or hole.
pub fn clip_ring(ring: &[(f64, f64)], extent: u32, buffer: i32, exterior: bool) -> Option<Vec<(i32, i32)>> {
    let lo = -(buffer as f64);
    let hi = extent as f64 + buffer as f64;
    let mut pts: Vec<(f64, f64)> = ring.to_vec();
    if pts.len() > 1 && pts.first() == pts.last() {
        pts.pop();
    }
    for edge in 0..4 {
        if pts.is_empty() {
            return None;
        }
        let inside = |p: (f64, f64)| match edge {
            0 => p.0 >= lo,
            1 => p.0 <= hi,
            2 => p.1 >= lo,
            _ => p.1 <= hi,
        };
        let cut = |a: (f64, f64), b: (f64, f64)| {
            let (v, av, bv) = match edge {
                0 => (lo, a.0, b.0),
                1 => (hi, a.0, b.0),
                2 => (lo, a.1, b.1),
                _ => (hi, a.1, b.1),
            };
            let t = (v - av) / (bv - av);
            (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1))
        };
        let mut out = Vec::with_capacity(pts.len() + 4);
        for i in 0..pts.len() {
            let cur = pts[i];
            let prev = pts[(i + pts.len() - 1) % pts.len()];
            match (inside(prev), inside(cur)) {
                (true, true) => out.push(cur),
                (true, false) => out.push(cut(prev, cur)),
                (false, true) => {
                    out.push(cut(prev, cur));
                    out.push(cur);
                }
                (false, false) => {}
            }
        }
        pts = out;
    }
    let mut r: Vec<(i32, i32)> = dedup(&pts.iter().map(|p| (p.0.round() as i32, p.1.round() as i32)).collect::<Vec<_>>());
    while r.len() > 1 && r.first() == r.last() {
        r.pop();
    }
    if r.len() < 3 {
        return None;
    }
    let a = ring_area2(&r);
    if a == 0 {
        return None;
    }
    if (a > 0) != exterior {
        r.reverse();
    }
    Some(r)
}

/// Clips a polyline (tile frame, floats) to the buffered tile (Liang–Barsky per segment);
/// returns the visible parts, rounded.
pub fn clip_line(line: &[(f64, f64)], extent: u32, buffer: i32) -> Vec<Vec<(i32, i32)>> {
    let lo = -(buffer as f64);
    let hi = extent as f64 + buffer as f64;
    let mut parts: Vec<Vec<(i32, i32)>> = Vec::new();
    let mut cur: Vec<(i32, i32)> = Vec::new();
    let round = |p: (f64, f64)| (p.0.round() as i32, p.1.round() as i32);
    for w in line.windows(2) {
        let (a, b) = (w[0], w[1]);
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        let mut visible = true;
        for (p, q) in [(-dx, a.0 - lo), (dx, hi - a.0), (-dy, a.1 - lo), (dy, hi - a.1)] {
            if p == 0.0 {
                if q < 0.0 {
                    visible = false;
                    break;
                }
            } else {
                let t = q / p;
                if p < 0.0 {
                    t0 = t0.max(t);
                } else {
                    t1 = t1.min(t);
                }
                if t0 > t1 {
                    visible = false;
                    break;
                }
            }
        }
        if !visible {
            if cur.len() >= 2 {
                parts.push(std::mem::take(&mut cur));
            }
            cur.clear();
            continue;
        }
        let s = round((a.0 + t0 * dx, a.1 + t0 * dy));
        let e = round((a.0 + t1 * dx, a.1 + t1 * dy));
        if cur.last() != Some(&s) {
            if cur.len() >= 2 {
                parts.push(std::mem::take(&mut cur));
            }
            cur.clear();
            cur.push(s);
        }
        cur.push(e);
        if t1 < 1.0 {
            if cur.len() >= 2 {
                parts.push(std::mem::take(&mut cur));
            }
            cur.clear();
        }
    }
    if cur.len() >= 2 {
        parts.push(cur);
    }
    parts.into_iter().map(|p| dedup(&p)).filter(|p| p.len() >= 2).collect()
}

/// A minimal decoder, for tests and tools: layer name → features (id, type, properties,
/// decoded geometry as absolute coordinates per part).
pub mod decode {
    use super::Value;

    #[derive(Debug, Clone, PartialEq)]
    pub struct Feature {
        pub id: Option<u64>,
        pub kind: u64,
        pub props: Vec<(String, Value)>,
        pub parts: Vec<Vec<(i32, i32)>>,
    }

    #[derive(Debug, Clone, PartialEq)]
    pub struct Layer {
        pub name: String,
        pub extent: u32,
        pub features: Vec<Feature>,
    }

    struct R<'a> {
        b: &'a [u8],
        i: usize,
    }

    impl<'a> R<'a> {
        fn done(&self) -> bool {
            self.i >= self.b.len()
        }
        fn varint(&mut self) -> Option<u64> {
            let mut v = 0u64;
            let mut s = 0;
            loop {
                let byte = *self.b.get(self.i)?;
                self.i += 1;
                v |= ((byte & 0x7f) as u64) << s;
                if byte < 0x80 {
                    return Some(v);
                }
                s += 7;
                if s > 63 {
                    return None;
                }
            }
        }
        fn bytes(&mut self) -> Option<&'a [u8]> {
            let n = self.varint()? as usize;
            let s = self.b.get(self.i..self.i + n)?;
            self.i += n;
            Some(s)
        }
        fn skip(&mut self, wire: u64) -> Option<()> {
            match wire {
                0 => {
                    self.varint()?;
                }
                1 => self.i += 8,
                2 => {
                    self.bytes()?;
                }
                5 => self.i += 4,
                _ => return None,
            }
            Some(())
        }
    }

    fn packed(b: &[u8]) -> Option<Vec<u64>> {
        let mut r = R { b, i: 0 };
        let mut out = Vec::new();
        while !r.done() {
            out.push(r.varint()?);
        }
        Some(out)
    }

    /// Decodes a tile; `None` if it is malformed.
    pub fn tile(b: &[u8]) -> Option<Vec<Layer>> {
        let mut r = R { b, i: 0 };
        let mut layers = Vec::new();
        while !r.done() {
            let k = r.varint()?;
            if k >> 3 == 3 && k & 7 == 2 {
                layers.push(layer(r.bytes()?)?);
            } else {
                r.skip(k & 7)?;
            }
        }
        Some(layers)
    }

    fn layer(b: &[u8]) -> Option<Layer> {
        let mut r = R { b, i: 0 };
        let (mut name, mut extent) = (String::new(), 4096u32);
        let (mut keys, mut values, mut raw) = (Vec::new(), Vec::new(), Vec::new());
        while !r.done() {
            let k = r.varint()?;
            match (k >> 3, k & 7) {
                (1, 2) => name = String::from_utf8(r.bytes()?.to_vec()).ok()?,
                (2, 2) => raw.push(r.bytes()?),
                (3, 2) => keys.push(String::from_utf8(r.bytes()?.to_vec()).ok()?),
                (4, 2) => values.push(value(r.bytes()?)?),
                (5, 0) => extent = r.varint()? as u32,
                (_, w) => r.skip(w)?,
            }
        }
        let mut features = Vec::new();
        for fb in raw {
            let mut r = R { b: fb, i: 0 };
            let mut f = Feature { id: None, kind: 0, props: Vec::new(), parts: Vec::new() };
            let mut cmds = Vec::new();
            while !r.done() {
                let k = r.varint()?;
                match (k >> 3, k & 7) {
                    (1, 0) => f.id = Some(r.varint()?),
                    (2, 2) => {
                        let t = packed(r.bytes()?)?;
                        for pair in t.chunks(2) {
                            let key = keys.get(*pair.first()? as usize)?.clone();
                            let val = values.get(*pair.get(1)? as usize)?.clone();
                            f.props.push((key, val));
                        }
                    }
                    (3, 0) => f.kind = r.varint()?,
                    (4, 2) => cmds = packed(r.bytes()?)?,
                    (_, w) => r.skip(w)?,
                }
            }
            let (mut x, mut y) = (0i32, 0i32);
            let mut i = 0;
            while i < cmds.len() {
                let c = cmds[i] as u32;
                i += 1;
                let (id, count) = (c & 7, (c >> 3) as usize);
                match id {
                    1 | 2 => {
                        for _ in 0..count {
                            let dx = *cmds.get(i)? as u32;
                            let dy = *cmds.get(i + 1)? as u32;
                            i += 2;
                            x += ((dx >> 1) as i32) ^ -((dx & 1) as i32);
                            y += ((dy >> 1) as i32) ^ -((dy & 1) as i32);
                            if id == 1 && f.kind != 1 {
                                f.parts.push(Vec::new());
                            }
                            if f.kind == 1 {
                                f.parts.push(vec![(x, y)]);
                            } else {
                                f.parts.last_mut()?.push((x, y));
                            }
                        }
                    }
                    7 => {}
                    _ => return None,
                }
            }
            features.push(f);
        }
        Some(Layer { name, extent, features })
    }

    fn value(b: &[u8]) -> Option<Value> {
        let mut r = R { b, i: 0 };
        let mut v = None;
        while !r.done() {
            let k = r.varint()?;
            v = Some(match (k >> 3, k & 7) {
                (1, 2) => Value::String(String::from_utf8(r.bytes()?.to_vec()).ok()?),
                (3, 1) => {
                    let s = b.get(r.i..r.i + 8)?;
                    r.i += 8;
                    Value::Double(f64::from_le_bytes(s.try_into().ok()?))
                }
                (4, 0) | (5, 0) => Value::Int(r.varint()? as i64),
                (6, 0) => {
                    let u = r.varint()?;
                    Value::Int(((u >> 1) as i64) ^ -((u & 1) as i64))
                }
                (7, 0) => Value::Bool(r.varint()? != 0),
                (_, w) => {
                    r.skip(w)?;
                    continue;
                }
            });
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_points_lines_polygons() {
        let mut l = LayerBuilder::new("objects");
        l.add(Some(7), &TileGeometry::Points(vec![(10, 20)]), &[("name", Value::String("网格员".into())), ("n", Value::Int(-3))]);
        l.add(None, &TileGeometry::Lines(vec![vec![(0, 0), (0, 0), (100, 50), (200, 50)]]), &[("w", Value::Double(1.5))]);
        let exterior = clip_ring(&[(0.0, 0.0), (0.0, 100.0), (100.0, 100.0), (100.0, 0.0)], EXTENT, BUFFER, true).unwrap();
        assert!(ring_area2(&exterior) > 0);
        let hole = clip_ring(&[(10.0, 10.0), (20.0, 10.0), (20.0, 20.0), (10.0, 20.0)], EXTENT, BUFFER, false).unwrap();
        assert!(ring_area2(&hole) < 0);
        l.add(
            Some(9),
            &TileGeometry::Polygons(vec![exterior.clone(), hole]),
            &[("ok", Value::Bool(true)), ("name", Value::String("网格员".into()))],
        );
        l.add(None, &TileGeometry::Lines(vec![vec![(5, 5)]]), &[]); // degenerate: dropped
        let tile = encode_tile(&[l, LayerBuilder::new("empty")]);
        let layers = decode::tile(&tile).unwrap();
        assert_eq!(layers.len(), 1);
        let f = &layers[0].features;
        assert_eq!(layers[0].name, "objects");
        assert_eq!(layers[0].extent, 4096);
        assert_eq!(f.len(), 3);
        assert_eq!(f[0].id, Some(7));
        assert_eq!(f[0].parts, vec![vec![(10, 20)]]);
        assert_eq!(f[0].props, vec![("name".into(), Value::String("网格员".into())), ("n".into(), Value::Int(-3))]);
        assert_eq!(f[1].parts, vec![vec![(0, 0), (100, 50), (200, 50)]]);
        assert_eq!(f[2].kind, 3);
        assert_eq!(f[2].parts.len(), 2);
        assert_eq!(f[2].parts[0], exterior);
    }

    #[test]
    fn clipping() {
        // A square bigger than the tile is cut to the buffered tile.
        let r = clip_ring(&[(-1000.0, -1000.0), (5000.0, -1000.0), (5000.0, 5000.0), (-1000.0, 5000.0)], EXTENT, BUFFER, true).unwrap();
        for &(x, y) in &r {
            assert!((-64..=4160).contains(&x) && (-64..=4160).contains(&y));
        }
        assert_eq!(ring_area2(&r), 2 * 4224 * 4224);
        // A ring entirely outside disappears.
        assert!(clip_ring(&[(5000.0, 5000.0), (6000.0, 5000.0), (6000.0, 6000.0)], EXTENT, BUFFER, true).is_none());
        // A line leaving and re-entering the tile gives two parts.
        let parts = clip_line(&[(100.0, 100.0), (100.0, 9000.0), (200.0, 9000.0), (200.0, 100.0)], EXTENT, BUFFER);
        assert_eq!(parts, vec![vec![(100, 100), (100, 4160)], vec![(200, 4160), (200, 100)]]);
    }
}
