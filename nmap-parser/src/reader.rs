//! The streaming reader: pulls XML events from quick-xml and turns them into typed [`Event`]s,
//! holding at most one host in memory.
//!
//! Elements are recognised by their name *and* their parent (a `<cpe>` under `<service>` is not
//! one under `<osclass>`); anything not recognised — including known names in unexpected places —
//! is skipped together with its subtree, so unknown or newer nmap output never breaks parsing.

use std::borrow::Cow;
use std::io::BufRead;
use std::iter::FusedIterator;
use std::str::FromStr;

use quick_xml::errors::{Error as XmlError, IllFormedError, SyntaxError};
use quick_xml::events::{BytesRef, BytesStart, Event as XmlEvent};

use crate::error::ParseError;
use crate::event::Event;
use crate::guard::{check_doctype, shorten, unescape};
use crate::input::CappedReader;
use crate::limits::Limits;
use crate::model::{
    AddrType, Address, ExtraPorts, ExtraReason, Host, HostState, HostStatus, Hostname, OsClass,
    OsMatch, Port, PortState, Protocol, RunInfo, RunStats, ScanInfo, Script, ScriptElem, Service,
    TaskPhase, TaskProgress,
};

/// Buffer capacity kept between events; anything larger is released after use.
const RETAINED_BUFFER: usize = 1 << 20;

/// Reads an nmap (or masscan) XML document as a stream of [`Event`]s.
///
/// Each [`Event::Host`] is yielded as soon as its `</host>` is read, so a scan can be persisted
/// while nmap is still writing, and a truncated file still yields every complete host before the
/// error. After the first error, or after `</nmaprun>`, the reader yields nothing more (bytes
/// after `</nmaprun>` are not read).
///
/// ```
/// use nmap_parser::{Event, NmapReader};
///
/// let xml = r#"<nmaprun scanner="nmap"><host><status state="up"/>
///   <address addr="127.0.0.1" addrtype="ipv4"/></host></nmaprun>"#;
/// let mut hosts = 0;
/// for event in NmapReader::new(xml.as_bytes()) {
///     if let Event::Host(host) = event? {
///         assert_eq!(host.ipv4(), Some([127, 0, 0, 1].into()));
///         hosts += 1;
///     }
/// }
/// assert_eq!(hosts, 1);
/// # Ok::<(), nmap_parser::ParseError>(())
/// ```
pub struct NmapReader<R> {
    xml: quick_xml::Reader<CappedReader<R>>,
    /// Reused for every XML event: no per-event allocation for markup the parser skips.
    buf: Vec<u8>,
    limits: Limits,
    phase: Phase,
    /// Whether anything other than whitespace has been seen (tells "empty" from "truncated").
    seen_markup: bool,
    seen_doctype: bool,
    /// Byte offset where the XML event being handled starts.
    event_pos: u64,
    /// Open elements below (and including) the root, classified.
    stack: Vec<Tag>,
    pending: Option<Event>,
    host: Option<Host>,
    host_elements: usize,
    port: Option<Port>,
    script: Option<ScriptBuilder>,
    runstats: Option<RunStats>,
    /// Text of the `<elem>`/`<cpe>` being read; reused.
    text: String,
    capturing: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before the root element.
    Prolog,
    /// Inside `<nmaprun>`.
    Body,
    /// After `</nmaprun>` or an error.
    Done,
}

/// An open element, classified by name and parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    NmapRun,
    ScanInfo,
    TaskBegin,
    TaskProgress,
    TaskEnd,
    PreScript,
    PostScript,
    Host,
    HostHint,
    Status,
    Address,
    Hostnames,
    Hostname,
    Ports,
    Port,
    ExtraPorts,
    ExtraReasons,
    State,
    Service,
    ServiceCpe,
    Os,
    OsMatch,
    OsClass,
    OsCpe,
    Distance,
    HostScript,
    Script,
    Table,
    Elem,
    RunStats,
    Finished,
    HostsCount,
    /// Anything else; its subtree is skipped.
    Other,
}

impl Tag {
    fn classify(parent: Option<Tag>, name: &[u8]) -> Tag {
        use Tag as T;
        match (parent, name) {
            (None, b"nmaprun") => T::NmapRun,
            (Some(T::NmapRun), b"scaninfo") => T::ScanInfo,
            (Some(T::NmapRun), b"taskbegin") => T::TaskBegin,
            (Some(T::NmapRun), b"taskprogress") => T::TaskProgress,
            (Some(T::NmapRun), b"taskend") => T::TaskEnd,
            (Some(T::NmapRun), b"prescript") => T::PreScript,
            (Some(T::NmapRun), b"postscript") => T::PostScript,
            (Some(T::NmapRun), b"host") => T::Host,
            (Some(T::NmapRun), b"hosthint") => T::HostHint,
            (Some(T::NmapRun), b"runstats") => T::RunStats,
            (Some(T::RunStats), b"finished") => T::Finished,
            (Some(T::RunStats), b"hosts") => T::HostsCount,
            (Some(T::Host | T::HostHint), b"status") => T::Status,
            (Some(T::Host | T::HostHint), b"address") => T::Address,
            (Some(T::Host | T::HostHint), b"hostnames") => T::Hostnames,
            (Some(T::Hostnames), b"hostname") => T::Hostname,
            (Some(T::Host), b"ports") => T::Ports,
            (Some(T::Host), b"os") => T::Os,
            (Some(T::Host), b"distance") => T::Distance,
            (Some(T::Host), b"hostscript") => T::HostScript,
            (Some(T::Ports), b"port") => T::Port,
            (Some(T::Ports), b"extraports") => T::ExtraPorts,
            (Some(T::ExtraPorts), b"extrareasons") => T::ExtraReasons,
            (Some(T::Port), b"state") => T::State,
            (Some(T::Port), b"service") => T::Service,
            (Some(T::Service), b"cpe") => T::ServiceCpe,
            (Some(T::Os), b"osmatch") => T::OsMatch,
            (Some(T::OsMatch), b"osclass") => T::OsClass,
            (Some(T::OsClass), b"cpe") => T::OsCpe,
            (Some(T::Port | T::HostScript | T::PreScript | T::PostScript), b"script") => T::Script,
            (Some(T::Script | T::Table), b"table") => T::Table,
            (Some(T::Script | T::Table), b"elem") => T::Elem,
            _ => T::Other,
        }
    }

    /// Whether the text content of this element is kept.
    fn captures_text(self) -> bool {
        matches!(self, Tag::Elem | Tag::ServiceCpe | Tag::OsCpe)
    }
}

/// A script whose `</script>` has not been read yet.
#[derive(Debug)]
struct ScriptBuilder {
    script: Script,
    /// Open `<table>`s: key and children so far.
    frames: Vec<(Option<String>, Vec<ScriptElem>)>,
    /// Key of the open `<elem>`.
    elem_key: Option<String>,
    nodes: usize,
    text_bytes: usize,
}

impl ScriptBuilder {
    fn children_mut(&mut self) -> &mut Vec<ScriptElem> {
        match self.frames.last_mut() {
            Some((_, children)) => children,
            None => &mut self.script.elements,
        }
    }
}

impl<R: BufRead> NmapReader<R> {
    /// A reader with the default [`Limits`].
    pub fn new(reader: R) -> Self {
        Self::with_limits(reader, Limits::default())
    }

    /// A reader with the given limits.
    pub fn with_limits(reader: R, limits: Limits) -> Self {
        let mut xml = quick_xml::Reader::from_reader(CappedReader::new(reader, limits.max_bytes));
        let config = xml.config_mut();
        config.check_end_names = true;
        config.expand_empty_elements = false;
        config.trim_text(false);
        Self {
            xml,
            buf: Vec::with_capacity(8 * 1024),
            limits,
            phase: Phase::Prolog,
            seen_markup: false,
            seen_doctype: false,
            event_pos: 0,
            stack: Vec::with_capacity(16),
            pending: None,
            host: None,
            host_elements: 0,
            port: None,
            script: None,
            runstats: None,
            text: String::new(),
            capturing: false,
        }
    }

    /// The next event; `Ok(None)` once `</nmaprun>` has been read, and after an error.
    pub fn next_event(&mut self) -> Result<Option<Event>, ParseError> {
        if let Some(event) = self.pending.take() {
            return Ok(Some(event));
        }
        if self.phase == Phase::Done {
            return Ok(None);
        }
        let mut buf = std::mem::take(&mut self.buf);
        let result = self.pump(&mut buf);
        buf.clear();
        // One huge tag (a long script output) must not pin its buffer for the rest of a stream.
        if buf.capacity() > RETAINED_BUFFER {
            buf.shrink_to(RETAINED_BUFFER);
        }
        if self.text.capacity() > RETAINED_BUFFER && !self.capturing {
            self.text.shrink_to(RETAINED_BUFFER);
        }
        self.buf = buf;
        if result.is_err() {
            self.phase = Phase::Done;
            self.pending = None;
        }
        result
    }

    /// Bytes of input consumed so far.
    pub fn position(&self) -> u64 {
        self.xml.buffer_position()
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Gives back the underlying reader (positioned wherever parsing stopped).
    pub fn into_inner(self) -> R {
        self.xml.into_inner().into_inner()
    }

    fn pump(&mut self, buf: &mut Vec<u8>) -> Result<Option<Event>, ParseError> {
        loop {
            buf.clear();
            self.event_pos = self.xml.buffer_position();
            let xml_event = match self.xml.read_event_into(buf) {
                Ok(event) => event,
                Err(err) => return Err(self.map_xml_error(err)),
            };
            let event = match xml_event {
                XmlEvent::Start(e) => self.open(&e, false)?,
                XmlEvent::Empty(e) => self.open(&e, true)?,
                XmlEvent::End(_) => self.end()?,
                XmlEvent::Text(text) => {
                    self.text_content(&text)?;
                    None
                }
                XmlEvent::CData(data) => {
                    self.cdata(&data)?;
                    None
                }
                XmlEvent::GeneralRef(reference) => {
                    self.general_ref(&reference)?;
                    None
                }
                XmlEvent::DocType(doctype) => {
                    self.doctype(&doctype)?;
                    None
                }
                XmlEvent::Decl(_) | XmlEvent::PI(_) | XmlEvent::Comment(_) => {
                    self.seen_markup = true;
                    None
                }
                XmlEvent::Eof => return Err(self.eof_error()),
            };
            if event.is_some() {
                return Ok(event);
            }
            if self.phase == Phase::Done {
                return Ok(None);
            }
        }
    }

    fn eof_error(&self) -> ParseError {
        if self.seen_markup {
            ParseError::Truncated {
                position: self.xml.buffer_position(),
            }
        } else {
            ParseError::Empty
        }
    }

    fn map_xml_error(&mut self, err: XmlError) -> ParseError {
        let position = self.xml.error_position();
        match err {
            XmlError::Io(source) => {
                if self.xml.get_ref().exceeded() {
                    ParseError::TooLarge {
                        max_bytes: self.limits.max_bytes,
                    }
                } else {
                    ParseError::Io {
                        source,
                        position: self.xml.buffer_position(),
                    }
                }
            }
            // The input ended inside a tag, comment, CDATA section or declaration.
            XmlError::Syntax(
                SyntaxError::UnclosedTag
                | SyntaxError::UnclosedComment
                | SyntaxError::UnclosedCData
                | SyntaxError::UnclosedDoctype
                | SyntaxError::UnclosedPIOrXmlDecl,
            ) => ParseError::Truncated {
                position: self.xml.buffer_position(),
            },
            // `<!` not followed by `-`, `[` or `D`: either the input ends right after `<!`, or
            // it is a DTD declaration (`<!ENTITY`, `<!ELEMENT`, …) outside a DOCTYPE.
            XmlError::Syntax(SyntaxError::InvalidBangMarkup) => {
                if self.at_eof() {
                    ParseError::Truncated {
                        position: self.xml.buffer_position(),
                    }
                } else {
                    ParseError::Forbidden {
                        reason: "markup declaration (`<!ENTITY`, `<!ELEMENT`, …) outside a DOCTYPE"
                            .to_owned(),
                        position,
                    }
                }
            }
            // `&…` without `;`: cut short if nothing follows.
            XmlError::IllFormed(IllFormedError::UnclosedReference) if self.at_eof() => {
                ParseError::Truncated {
                    position: self.xml.buffer_position(),
                }
            }
            other => ParseError::Xml {
                message: other.to_string(),
                position,
            },
        }
    }

    /// Whether the input has nothing left (checked after an error).
    fn at_eof(&mut self) -> bool {
        self.xml
            .get_mut()
            .fill_buf()
            .is_ok_and(|rest| rest.is_empty())
    }

    fn doctype(&mut self, content: &[u8]) -> Result<(), ParseError> {
        let position = self.event_pos;
        if self.phase != Phase::Prolog || self.seen_doctype {
            return Err(ParseError::Forbidden {
                reason: "DOCTYPE after the document has started".to_owned(),
                position,
            });
        }
        check_doctype(content).map_err(|reason| ParseError::Forbidden { reason, position })?;
        self.seen_doctype = true;
        self.seen_markup = true;
        Ok(())
    }

    fn text_content(&mut self, raw: &[u8]) -> Result<(), ParseError> {
        if self.capturing {
            let decoded = String::from_utf8_lossy(raw);
            self.push_text(&decoded)
        } else if self.phase == Phase::Prolog && !raw.iter().all(u8::is_ascii_whitespace) {
            Err(self.text_before_root())
        } else {
            // Whitespace between elements, or text of elements the model does not keep.
            Ok(())
        }
    }

    fn cdata(&mut self, raw: &[u8]) -> Result<(), ParseError> {
        if self.phase == Phase::Prolog {
            return Err(self.text_before_root());
        }
        if self.capturing {
            let decoded = String::from_utf8_lossy(raw);
            self.push_text(&decoded)?;
        }
        Ok(())
    }

    fn general_ref(&mut self, reference: &BytesRef<'_>) -> Result<(), ParseError> {
        let position = self.event_pos;
        let malformed = || ParseError::Xml {
            message: "malformed character reference".to_owned(),
            position,
        };
        let mut utf8 = [0u8; 4];
        let resolved: &str = match reference.resolve_char_ref() {
            Ok(Some(c)) => c.encode_utf8(&mut utf8),
            Ok(None) => {
                let name = String::from_utf8_lossy(reference);
                quick_xml::escape::resolve_xml_entity(&name).ok_or_else(|| {
                    ParseError::Forbidden {
                        reason: format!("reference to entity `&{};`", shorten(&name)),
                        position,
                    }
                })?
            }
            Err(_) => return Err(malformed()),
        };
        if self.phase == Phase::Prolog {
            return Err(self.text_before_root());
        }
        if self.capturing {
            self.push_text(resolved)?;
        }
        Ok(())
    }

    fn push_text(&mut self, s: &str) -> Result<(), ParseError> {
        if self.text.len() + s.len() > self.limits.max_script_output {
            return Err(self.limit("element text", self.limits.max_script_output));
        }
        if s.contains('\r') {
            // XML end-of-line normalisation (masscan writes CRLF).
            self.text
                .push_str(&s.replace("\r\n", "\n").replace('\r', "\n"));
        } else {
            self.text.push_str(s);
        }
        Ok(())
    }

    fn text_before_root(&self) -> ParseError {
        ParseError::NotNmap {
            found: "text".to_owned(),
            position: self.event_pos,
        }
    }

    fn limit(&self, what: &'static str, max: usize) -> ParseError {
        ParseError::LimitExceeded {
            what,
            max: max as u64,
            position: self.event_pos,
        }
    }

    /// A start tag (`empty` for `<x/>`).
    fn open(&mut self, e: &BytesStart<'_>, empty: bool) -> Result<Option<Event>, ParseError> {
        self.seen_markup = true;
        if self.stack.len() >= self.limits.max_depth {
            return Err(self.limit("element nesting depth", self.limits.max_depth));
        }
        let name = e.name();
        let tag = Tag::classify(self.stack.last().copied(), name.as_ref());
        if self.stack.is_empty() && tag != Tag::NmapRun {
            return Err(ParseError::NotNmap {
                found: format!("<{}>", shorten(&String::from_utf8_lossy(name.as_ref()))),
                position: self.event_pos,
            });
        }
        if self.host.is_some() {
            self.host_elements += 1;
            if self.host_elements > self.limits.max_host_elements {
                return Err(self.limit("elements in one host", self.limits.max_host_elements));
            }
        }
        let opened = self.open_tag(tag, e)?;
        if tag.captures_text() {
            self.text.clear();
            self.capturing = true;
        }
        if empty {
            let closed = self.close_tag(tag)?;
            return Ok(match (opened, closed) {
                (Some(first), second) => {
                    self.pending = second;
                    Some(first)
                }
                (None, second) => second,
            });
        }
        self.stack.push(tag);
        Ok(opened)
    }

    /// An end tag. quick-xml has already checked that it matches the open element.
    fn end(&mut self) -> Result<Option<Event>, ParseError> {
        let Some(tag) = self.stack.pop() else {
            return Err(ParseError::Xml {
                message: "end tag without a start tag".to_owned(),
                position: self.event_pos,
            });
        };
        self.close_tag(tag)
    }

    fn open_tag(&mut self, tag: Tag, e: &BytesStart<'_>) -> Result<Option<Event>, ParseError> {
        let pos = self.event_pos;
        match tag {
            Tag::NmapRun => {
                self.phase = Phase::Body;
                return Ok(Some(Event::RunStart(read_run_info(e, pos)?)));
            }
            Tag::ScanInfo => return Ok(Some(Event::ScanInfo(read_scan_info(e, pos)?))),
            Tag::TaskBegin => return Ok(Some(Event::TaskBegin(read_task_phase(e, pos)?))),
            Tag::TaskEnd => return Ok(Some(Event::TaskEnd(read_task_phase(e, pos)?))),
            Tag::TaskProgress => {
                return Ok(Some(Event::TaskProgress(read_task_progress(e, pos)?)));
            }
            Tag::Host | Tag::HostHint => {
                self.host = Some(read_host_times(e, pos)?);
                self.host_elements = 0;
            }
            Tag::Status => {
                let status = read_status(e, pos)?;
                if let Some(host) = &mut self.host {
                    host.status = status;
                }
            }
            Tag::Address => {
                let address = read_address(e, pos)?;
                if let Some(host) = &mut self.host {
                    host.addresses.push(address);
                }
            }
            Tag::Hostname => {
                let hostname = read_hostname(e, pos)?;
                if let Some(host) = &mut self.host {
                    host.hostnames.push(hostname);
                }
            }
            Tag::Distance => {
                let mut distance = None;
                for_each_attr(e, pos, |key, value| {
                    if key == b"value" {
                        distance = Some(number(&value, "distance", "value", pos)?);
                    }
                    Ok(())
                })?;
                if let Some(host) = &mut self.host {
                    host.distance = distance;
                }
            }
            Tag::Port => self.port = Some(read_port(e, pos)?),
            Tag::State => {
                let (state, reason, reason_ttl) = read_port_state(e, pos)?;
                if let Some(port) = &mut self.port {
                    port.state = state;
                    port.reason = reason;
                    port.reason_ttl = reason_ttl;
                }
            }
            Tag::Service => {
                let service = read_service(e, pos)?;
                if let Some(port) = &mut self.port {
                    port.service = Some(service);
                }
            }
            Tag::ExtraPorts => {
                let extra = read_extra_ports(e, pos)?;
                if let Some(host) = &mut self.host {
                    host.extra_ports.push(extra);
                }
            }
            Tag::ExtraReasons => {
                let reason = read_extra_reason(e, pos)?;
                if let Some(extra) = self.host.as_mut().and_then(|h| h.extra_ports.last_mut()) {
                    extra.reasons.push(reason);
                }
            }
            Tag::OsMatch => {
                let os_match = read_os_match(e, pos)?;
                if let Some(host) = &mut self.host {
                    host.os_matches.push(os_match);
                }
            }
            Tag::OsClass => {
                let class = read_os_class(e, pos)?;
                if let Some(m) = self.host.as_mut().and_then(|h| h.os_matches.last_mut()) {
                    m.classes.push(class);
                }
            }
            Tag::Script => {
                let script = read_script(e, pos, self.limits.max_script_output)?;
                self.script = Some(ScriptBuilder {
                    script,
                    frames: Vec::new(),
                    elem_key: None,
                    nodes: 0,
                    text_bytes: 0,
                });
            }
            Tag::Table | Tag::Elem => {
                let key = read_key(e, pos)?;
                let max_nodes = self.limits.max_script_elements;
                let Some(builder) = &mut self.script else {
                    return Ok(None);
                };
                builder.nodes += 1;
                if builder.nodes > max_nodes {
                    return Err(self.limit("script elements", max_nodes));
                }
                if tag == Tag::Table {
                    builder.frames.push((key, Vec::new()));
                } else {
                    builder.elem_key = key;
                }
            }
            Tag::Finished => {
                let stats = self.runstats.get_or_insert_with(RunStats::default);
                read_finished(e, pos, stats)?;
            }
            Tag::HostsCount => {
                let stats = self.runstats.get_or_insert_with(RunStats::default);
                read_hosts_count(e, pos, stats)?;
            }
            Tag::RunStats => self.runstats = Some(RunStats::default()),
            Tag::PreScript
            | Tag::PostScript
            | Tag::Hostnames
            | Tag::Ports
            | Tag::ServiceCpe
            | Tag::Os
            | Tag::OsCpe
            | Tag::HostScript
            | Tag::Other => {}
        }
        Ok(None)
    }

    fn close_tag(&mut self, tag: Tag) -> Result<Option<Event>, ParseError> {
        if tag.captures_text() {
            self.capturing = false;
        }
        match tag {
            Tag::NmapRun => self.phase = Phase::Done,
            Tag::Host => return Ok(self.host.take().map(Event::Host)),
            Tag::HostHint => return Ok(self.host.take().map(Event::HostHint)),
            Tag::Port => {
                if let (Some(port), Some(host)) = (self.port.take(), &mut self.host) {
                    host.ports.push(port);
                }
            }
            Tag::ServiceCpe => {
                let cpe = self.take_text();
                if let Some(service) = self.port.as_mut().and_then(|p| p.service.as_mut()) {
                    service.cpes.push(cpe);
                }
            }
            Tag::OsCpe => {
                let cpe = self.take_text();
                let class = self
                    .host
                    .as_mut()
                    .and_then(|h| h.os_matches.last_mut())
                    .and_then(|m| m.classes.last_mut());
                if let Some(class) = class {
                    class.cpes.push(cpe);
                }
            }
            Tag::Elem => {
                let value = self.take_text();
                let max_text = self.limits.max_script_output;
                if let Some(builder) = &mut self.script {
                    builder.text_bytes += value.len();
                    if builder.text_bytes > max_text {
                        return Err(self.limit("script element text", max_text));
                    }
                    let key = builder.elem_key.take();
                    builder.children_mut().push(ScriptElem::Elem { key, value });
                }
            }
            Tag::Table => {
                if let Some(builder) = &mut self.script
                    && let Some((key, children)) = builder.frames.pop()
                {
                    builder
                        .children_mut()
                        .push(ScriptElem::Table { key, children });
                }
            }
            Tag::Script => return Ok(self.finish_script()),
            Tag::RunStats => return Ok(self.runstats.take().map(Event::RunStats)),
            _ => {}
        }
        Ok(None)
    }

    /// Attaches a finished script to whatever contains it.
    fn finish_script(&mut self) -> Option<Event> {
        let script = self.script.take()?.script;
        match self.stack.last() {
            Some(Tag::Port) => {
                if let Some(port) = &mut self.port {
                    port.scripts.push(script);
                }
                None
            }
            Some(Tag::HostScript) => {
                if let Some(host) = &mut self.host {
                    host.host_scripts.push(script);
                }
                None
            }
            Some(Tag::PreScript) => Some(Event::PreScript(script)),
            Some(Tag::PostScript) => Some(Event::PostScript(script)),
            _ => None,
        }
    }

    /// The captured text as an exactly-sized string; the capture buffer keeps its capacity.
    fn take_text(&mut self) -> String {
        let text = self.text.as_str().to_owned();
        self.text.clear();
        text
    }
}

impl<R: BufRead> Iterator for NmapReader<R> {
    type Item = Result<Event, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_event().transpose()
    }
}

impl<R: BufRead> FusedIterator for NmapReader<R> {}

impl<R> std::fmt::Debug for NmapReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NmapReader")
            .field("position", &self.xml.buffer_position())
            .field("phase", &self.phase)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

// ---- attribute readers -------------------------------------------------------------------------

/// Calls `f` with each attribute's name and unescaped value.
fn for_each_attr(
    e: &BytesStart<'_>,
    pos: u64,
    mut f: impl FnMut(&[u8], Cow<'_, str>) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    for attr in e.attributes() {
        let attr = attr.map_err(|err| ParseError::Xml {
            message: err.to_string(),
            position: pos,
        })?;
        f(attr.key.as_ref(), attr_value(&attr.value, pos)?)?;
    }
    Ok(())
}

/// Decodes (invalid UTF-8 is replaced, not fatal: one odd byte in a banner must not sink an
/// import) and unescapes an attribute value. Borrows when there is nothing to change.
fn attr_value(raw: &[u8], pos: u64) -> Result<Cow<'_, str>, ParseError> {
    let map = |err: Option<String>| match err {
        Some(name) => ParseError::Forbidden {
            reason: format!("reference to entity `&{};`", shorten(&name)),
            position: pos,
        },
        None => ParseError::Xml {
            message: "malformed character or entity reference in an attribute".to_owned(),
            position: pos,
        },
    };
    match String::from_utf8_lossy(raw) {
        Cow::Borrowed(s) => unescape(s).map_err(map),
        Cow::Owned(s) => Ok(Cow::Owned(unescape(&s).map_err(map)?.into_owned())),
    }
}

fn number<T: FromStr>(
    value: &str,
    element: &'static str,
    attribute: &'static str,
    position: u64,
) -> Result<T, ParseError> {
    value.trim().parse().map_err(|_| ParseError::InvalidValue {
        element,
        attribute,
        value: shorten(value),
        position,
    })
}

fn missing(element: &'static str, attribute: &'static str, position: u64) -> ParseError {
    ParseError::MissingAttribute {
        element,
        attribute,
        position,
    }
}

fn read_run_info(e: &BytesStart<'_>, pos: u64) -> Result<RunInfo, ParseError> {
    let mut info = RunInfo::default();
    for_each_attr(e, pos, |key, value| {
        match key {
            b"scanner" => info.scanner = value.into_owned(),
            b"args" => info.args = Some(value.into_owned()),
            b"version" => info.version = Some(value.into_owned()),
            b"start" => info.start = Some(number(&value, "nmaprun", "start", pos)?),
            b"startstr" => info.start_str = Some(value.into_owned()),
            b"xmloutputversion" => info.xml_output_version = Some(value.into_owned()),
            _ => {}
        }
        Ok(())
    })?;
    Ok(info)
}

fn read_scan_info(e: &BytesStart<'_>, pos: u64) -> Result<ScanInfo, ParseError> {
    let mut info = ScanInfo {
        scan_type: String::new(),
        protocol: Protocol::Unknown,
        num_services: None,
        services: None,
    };
    for_each_attr(e, pos, |key, value| {
        match key {
            b"type" => info.scan_type = value.into_owned(),
            b"protocol" => info.protocol = Protocol::from_nmap(&value),
            b"numservices" => {
                info.num_services = Some(number(&value, "scaninfo", "numservices", pos)?);
            }
            b"services" => info.services = Some(value.into_owned()),
            _ => {}
        }
        Ok(())
    })?;
    Ok(info)
}

fn read_task_phase(e: &BytesStart<'_>, pos: u64) -> Result<TaskPhase, ParseError> {
    let mut phase = TaskPhase {
        task: String::new(),
        time: None,
        extra_info: None,
    };
    for_each_attr(e, pos, |key, value| {
        match key {
            b"task" => phase.task = value.into_owned(),
            b"time" => phase.time = Some(number(&value, "taskbegin", "time", pos)?),
            b"extrainfo" => phase.extra_info = Some(value.into_owned()),
            _ => {}
        }
        Ok(())
    })?;
    Ok(phase)
}

fn read_task_progress(e: &BytesStart<'_>, pos: u64) -> Result<TaskProgress, ParseError> {
    const EL: &str = "taskprogress";
    let mut progress = TaskProgress {
        task: String::new(),
        time: None,
        percent: None,
        remaining: None,
        etc: None,
    };
    for_each_attr(e, pos, |key, value| {
        match key {
            b"task" => progress.task = value.into_owned(),
            b"time" => progress.time = Some(number(&value, EL, "time", pos)?),
            b"percent" => progress.percent = Some(number(&value, EL, "percent", pos)?),
            b"remaining" => progress.remaining = Some(number(&value, EL, "remaining", pos)?),
            b"etc" => progress.etc = Some(number(&value, EL, "etc", pos)?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(progress)
}

fn read_host_times(e: &BytesStart<'_>, pos: u64) -> Result<Host, ParseError> {
    let mut host = Host::default();
    for_each_attr(e, pos, |key, value| {
        match key {
            b"starttime" => host.start_time = Some(number(&value, "host", "starttime", pos)?),
            b"endtime" => host.end_time = Some(number(&value, "host", "endtime", pos)?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(host)
}

fn read_status(e: &BytesStart<'_>, pos: u64) -> Result<HostStatus, ParseError> {
    let mut status = HostStatus::default();
    for_each_attr(e, pos, |key, value| {
        match key {
            b"state" => status.state = HostState::from_nmap(&value),
            b"reason" => status.reason = Some(value.into_owned()),
            b"reason_ttl" => status.reason_ttl = Some(number(&value, "status", "reason_ttl", pos)?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(status)
}

fn read_address(e: &BytesStart<'_>, pos: u64) -> Result<Address, ParseError> {
    let mut addr = None;
    let mut addrtype = None;
    let mut vendor = None;
    for_each_attr(e, pos, |key, value| {
        match key {
            b"addr" => addr = Some(value.into_owned()),
            b"addrtype" => {
                addrtype =
                    Some(
                        value
                            .parse::<AddrType>()
                            .map_err(|()| ParseError::InvalidValue {
                                element: "address",
                                attribute: "addrtype",
                                value: shorten(&value),
                                position: pos,
                            })?,
                    );
            }
            b"vendor" => vendor = Some(value.into_owned()),
            _ => {}
        }
        Ok(())
    })?;
    let addr = addr.ok_or_else(|| missing("address", "addr", pos))?;
    // The DTD default is ipv4. masscan writes addrtype="ipv4" even for IPv6 addresses.
    let mut addrtype = addrtype.unwrap_or(AddrType::Ipv4);
    if addrtype == AddrType::Ipv4
        && addr.contains(':')
        && addr.parse::<std::net::Ipv6Addr>().is_ok()
    {
        addrtype = AddrType::Ipv6;
    }
    Ok(Address {
        addr,
        addrtype,
        vendor,
    })
}

fn read_hostname(e: &BytesStart<'_>, pos: u64) -> Result<Hostname, ParseError> {
    let mut name = None;
    let mut kind = None;
    for_each_attr(e, pos, |key, value| {
        match key {
            b"name" => name = Some(value.into_owned()),
            b"type" => kind = Some(value.into_owned()),
            _ => {}
        }
        Ok(())
    })?;
    Ok(Hostname {
        name: name.ok_or_else(|| missing("hostname", "name", pos))?,
        kind,
    })
}

fn read_port(e: &BytesStart<'_>, pos: u64) -> Result<Port, ParseError> {
    let mut protocol = None;
    let mut portid = None;
    for_each_attr(e, pos, |key, value| {
        match key {
            b"protocol" => protocol = Some(Protocol::from_nmap(&value)),
            b"portid" => portid = Some(number(&value, "port", "portid", pos)?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(Port {
        protocol: protocol.ok_or_else(|| missing("port", "protocol", pos))?,
        portid: portid.ok_or_else(|| missing("port", "portid", pos))?,
        state: PortState::Unknown,
        reason: None,
        reason_ttl: None,
        service: None,
        scripts: Vec::new(),
    })
}

fn read_port_state(
    e: &BytesStart<'_>,
    pos: u64,
) -> Result<(PortState, Option<String>, Option<u8>), ParseError> {
    let mut state = PortState::Unknown;
    let mut reason = None;
    let mut reason_ttl = None;
    for_each_attr(e, pos, |key, value| {
        match key {
            b"state" => state = PortState::from_nmap(&value),
            b"reason" => reason = Some(value.into_owned()),
            b"reason_ttl" => reason_ttl = Some(number(&value, "state", "reason_ttl", pos)?),
            _ => {}
        }
        Ok(())
    })?;
    Ok((state, reason, reason_ttl))
}

fn read_service(e: &BytesStart<'_>, pos: u64) -> Result<Service, ParseError> {
    let mut service = Service::default();
    for_each_attr(e, pos, |key, value| {
        let field = match key {
            b"name" => {
                service.name = value.into_owned();
                return Ok(());
            }
            b"conf" => {
                service.conf = Some(number(&value, "service", "conf", pos)?);
                return Ok(());
            }
            b"product" => &mut service.product,
            b"version" => &mut service.version,
            b"extrainfo" => &mut service.extra_info,
            b"tunnel" => &mut service.tunnel,
            b"method" => &mut service.method,
            b"ostype" => &mut service.os_type,
            b"devicetype" => &mut service.device_type,
            b"hostname" => &mut service.hostname,
            b"banner" => &mut service.banner,
            _ => return Ok(()),
        };
        *field = Some(value.into_owned());
        Ok(())
    })?;
    Ok(service)
}

fn read_extra_ports(e: &BytesStart<'_>, pos: u64) -> Result<ExtraPorts, ParseError> {
    let mut state = PortState::Unknown;
    let mut count = 0;
    for_each_attr(e, pos, |key, value| {
        match key {
            b"state" => state = PortState::from_nmap(&value),
            b"count" => count = number(&value, "extraports", "count", pos)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(ExtraPorts {
        state,
        count,
        reasons: Vec::new(),
    })
}

fn read_extra_reason(e: &BytesStart<'_>, pos: u64) -> Result<ExtraReason, ParseError> {
    let mut reason = ExtraReason {
        reason: String::new(),
        count: 0,
        protocol: None,
        ports: None,
    };
    for_each_attr(e, pos, |key, value| {
        match key {
            b"reason" => reason.reason = value.into_owned(),
            b"count" => reason.count = number(&value, "extrareasons", "count", pos)?,
            b"proto" => reason.protocol = Some(Protocol::from_nmap(&value)),
            b"ports" => reason.ports = Some(value.into_owned()),
            _ => {}
        }
        Ok(())
    })?;
    Ok(reason)
}

fn read_os_match(e: &BytesStart<'_>, pos: u64) -> Result<OsMatch, ParseError> {
    let mut os_match = OsMatch {
        name: String::new(),
        accuracy: 0,
        line: None,
        classes: Vec::new(),
    };
    for_each_attr(e, pos, |key, value| {
        match key {
            b"name" => os_match.name = value.into_owned(),
            b"accuracy" => os_match.accuracy = number(&value, "osmatch", "accuracy", pos)?,
            b"line" => os_match.line = Some(number(&value, "osmatch", "line", pos)?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(os_match)
}

fn read_os_class(e: &BytesStart<'_>, pos: u64) -> Result<OsClass, ParseError> {
    let mut class = OsClass {
        vendor: None,
        os_family: None,
        os_gen: None,
        device_type: None,
        accuracy: None,
        cpes: Vec::new(),
    };
    for_each_attr(e, pos, |key, value| {
        match key {
            b"vendor" => class.vendor = Some(value.into_owned()),
            b"osfamily" => class.os_family = Some(value.into_owned()),
            b"osgen" => class.os_gen = Some(value.into_owned()),
            b"type" => class.device_type = Some(value.into_owned()),
            b"accuracy" => class.accuracy = Some(number(&value, "osclass", "accuracy", pos)?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(class)
}

fn read_script(e: &BytesStart<'_>, pos: u64, max_output: usize) -> Result<Script, ParseError> {
    let mut script = Script::default();
    for_each_attr(e, pos, |key, value| {
        match key {
            b"id" => script.id = value.into_owned(),
            b"output" => {
                if value.len() > max_output {
                    return Err(ParseError::LimitExceeded {
                        what: "script output",
                        max: max_output as u64,
                        position: pos,
                    });
                }
                script.output = value.into_owned();
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(script)
}

fn read_key(e: &BytesStart<'_>, pos: u64) -> Result<Option<String>, ParseError> {
    let mut key = None;
    for_each_attr(e, pos, |name, value| {
        if name == b"key" {
            key = Some(value.into_owned());
        }
        Ok(())
    })?;
    Ok(key)
}

fn read_finished(e: &BytesStart<'_>, pos: u64, stats: &mut RunStats) -> Result<(), ParseError> {
    for_each_attr(e, pos, |key, value| {
        match key {
            b"time" => stats.finished = Some(number(&value, "finished", "time", pos)?),
            b"timestr" => stats.time_str = Some(value.into_owned()),
            b"elapsed" => stats.elapsed = Some(number(&value, "finished", "elapsed", pos)?),
            b"summary" => stats.summary = Some(value.into_owned()),
            b"exit" => stats.exit = Some(value.into_owned()),
            b"errormsg" => stats.error_msg = Some(value.into_owned()),
            _ => {}
        }
        Ok(())
    })
}

fn read_hosts_count(e: &BytesStart<'_>, pos: u64, stats: &mut RunStats) -> Result<(), ParseError> {
    for_each_attr(e, pos, |key, value| {
        match key {
            b"up" => stats.hosts_up = number(&value, "hosts", "up", pos)?,
            b"down" => stats.hosts_down = number(&value, "hosts", "down", pos)?,
            b"total" => stats.hosts_total = number(&value, "hosts", "total", pos)?,
            _ => {}
        }
        Ok(())
    })
}
