"""Build a new KB version from the corpus: load → clean → split → tokens + embeddings → publish.

Incremental: a passage whose content hash is in the current version (same model) reuses its vector;
an unchanged corpus (same files, dictionary and pipeline) publishes nothing at all.
"""
from __future__ import annotations

import hashlib
import shutil
import time
from collections import Counter
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from ingest.corpus import CorpusFile, list_files
from ingest.document import LoadError
from ingest.embedding import (Progress, build_model_fingerprint, choose_model, close_loaded, embed,
                              load_encoder_async, previous_version, unit_key, usable_encoder)
from ingest.labels import fit_for_version, label_report
from ingest.loaders import load
from ingest.model_convert import file_sha256
from ingest.passage_text import embed_input, indexed_text, keyword_text
from kb.blas import limit_blas_threads
from kb.index.bm25 import BM25Index
from kb.labels.model import Label
from kb.labels.reference import build_reference, reference_texts, text_key
from kb.labels.reference import fingerprint as reference_fingerprint
from kb.passage import KINDS, Passage, content_hash, passage_id
from kb.settings import Settings
from kb.state import Content, open_content
from kb.tokenize import DICTIONARY_FILES, Tokenizer
from kb.units import sentence_units
from kb.version import BuildModel, Counts, Manifest, VersionContent, write_contents, write_manifest

# Bump when cleaning/splitting/indexing changes what a version holds, so `--if-stale` rebuilds.
PIPELINE_VERSION = "8"

def cleanup_leftovers(settings: Settings, content: Content | None = None) -> list[str]:
    """What a killed build or upload left behind: half-built versions, temp files, a version moved in
    place but never published, upload temp files of dead processes. Safe while another process builds.
    Called at every start (service, `kb ingest`, each re-index). Returns what was removed."""
    return (content or open_content(settings)).remove_leftovers(settings.keep_versions)


class IngestError(Exception):
    """The corpus cannot be ingested at all (no documents, no folder); message shown as-is."""


@dataclass
class BuildReport:
    version_id: str | None = None
    changed: bool = True
    documents: int = 0
    passages: int = 0
    by_kind: dict = field(default_factory=dict)
    per_document: list = field(default_factory=list)
    embedded: int = 0
    reused: int = 0
    sentences_embedded: int = 0
    junk_removed: int = 0
    boilerplate_removed: int = 0
    mojibake_spans: int = 0
    junk_passages: int = 0  # passages with nothing an agent could use, left out (per document: their text)
    errors: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    labels: dict = field(default_factory=dict)  # labels in use, and those no passage answers (label_report)
    seconds: float = 0.0
    dense_index: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def _corpus_fingerprint(files, dict_folder: Path, settings: Settings, model_fp: str,
                        references: list[str]) -> str:
    h = hashlib.sha256()
    h.update(f"pipeline={PIPELINE_VERSION};model={model_fp};index={settings.dense_index}".encode())
    if references:  # the label questions the hub scores are measured against
        h.update(f";references={reference_fingerprint(references)}".encode())
    for f in files:
        h.update(f"{f.doc_id}\x1f{f.sha256()}\n".encode())
    for name in DICTIONARY_FILES:
        h.update((dict_folder / name).read_bytes())
    return h.hexdigest()


def collect_passages(files: list[CorpusFile], problems: list[str], report: BuildReport,
                     progress: Progress) -> tuple[list[dict], list[Passage]]:
    """Every file read, cleaned and split (`files` with local paths); what could not be read goes to
    report.errors with the folders' `problems`."""
    from ingest.clean import clean
    from ingest.split import split_document

    report.errors.extend({"doc": None, "error": p} for p in problems)
    documents, passages = [], []
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    for n, f in enumerate(files, 1):
        progress("load", n - 1, len(files))
        try:
            source = load(f.path)
            cleaned = clean(source)
            parts = split_document(cleaned)
        except LoadError as exc:
            report.errors.append({"doc": f.doc_id, "error": str(exc)})
            continue
        except Exception as exc:  # a bug or a hostile file must not stop the rest of the corpus
            report.errors.append({"doc": f.doc_id, "error": f"无法读取 / cannot read: {type(exc).__name__}: {exc}"})
            continue
        title = cleaned.title or source.title
        creport = cleaned.report
        seen: Counter = Counter()
        kinds: Counter = Counter()
        drafts = parts.passages
        for d in drafts:
            chash = content_hash(d.title, d.section, d.text)
            seen[chash] += 1
            p = Passage(id=passage_id(f.doc_id, chash, seen[chash]), doc_id=f.doc_id, doc_title=title,
                        section=list(d.section), kind=d.kind, title=d.title, text=d.text, search_text="",
                        start=d.start, end=d.end, page=d.page, content_hash=chash,
                        extra={"item_breaks": d.item_breaks} if d.item_breaks else {})
            p.search_text = keyword_text(p)
            passages.append(p)
            kinds[d.kind] += 1
        if not drafts:
            report.warnings.append(f"{f.doc_id}: 没有可用的段落 / no usable passages")
        warnings = list(creport.warnings) + list(source.warnings)
        if parts.junk:
            shown = "、".join("「" + j.text.replace("\n", " ")[:30] + "」" for j in parts.junk)
            warnings.append(f"{len(parts.junk)} 段没有可用内容，未编入索引 / {len(parts.junk)} passages with nothing "
                            f"an agent could use left out: {shown}")
        junk, boiler, moji = creport.pinyin_junk_removed, creport.boilerplate_lines_removed, creport.mojibake_spans
        report.junk_removed += junk
        report.boilerplate_removed += boiler
        report.mojibake_spans += moji
        report.junk_passages += len(parts.junk)
        info = {"passages": len(drafts), "kinds": {k: kinds.get(k, 0) for k in KINDS}, "warnings": warnings,
                "uploaded": f.uploaded, "cleaning": creport.to_dict(),
                "junk_passages": [j.to_dict() for j in parts.junk]}
        documents.append({"doc_id": f.doc_id, "title": title, "path": str(f.path), "format": source.format,
                          "encoding": source.encoding, "size": f.path.stat().st_size, "sha256": file_sha256(f.path),
                          "indexed_at": now, "info": info})
        report.per_document.append({"doc": f.doc_id, "title": title, **info})
    progress("load", len(files), len(files))
    return documents, passages


def build_version(settings: Settings, encoder=None, progress: Progress | None = None,
                  dirs: list[Path] | None = None, force: bool = False,
                  before_publish: Callable[[Path], None] | None = None, content: Content | None = None,
                  tuned_model: str | None = None, base_model: bool = False, calibration: dict | None = None
                  ) -> BuildReport:
    """Build and publish a new version; with force=False an unchanged corpus publishes nothing.

    `encoder` is loaded on demand (only when something needs embedding) if not given, or not of the model
    the build embeds with (`choose_model`: `tuned_model`, the base model with `base_model`, else the current
    version's rule).
    `dirs`: the read-only document folders (default KB_DOCS_DIRS); the stored documents are always added.
    `before_publish(folder)` may raise to refuse the swap (e.g. an evaluation gate).
    `content`: the deployment's stores (kb/state), opened from the settings if not given.
    `calibration`: the no-answer model to store with the version instead of fitting one (`kb tune`: fitted on
    its gate's held-out rows).
    """
    progress = progress or (lambda stage, done, total: None)
    t0 = time.perf_counter()
    # As in a serving process: one BLAS thread. OpenBLAS's own threads beside OpenVINO's (the model loads on
    # another thread meanwhile) hung 3 of 25 `kb ingest` runs in the hub-score product, spinning; 0 of 30
    # with this limit, and the product costs little more (kb/blas.py).
    limit_blas_threads()
    report = BuildReport()
    content = content or open_content(settings)
    versions = content.versions
    cleanup_leftovers(settings, content)  # what a killed build left behind
    with content.dictionary.local_folder() as dict_folder:
        files, problems = list_files(settings, content.documents, dirs)
        if problems and not files:
            raise IngestError("; ".join(problems))
        if not files:
            folders = dirs if dirs is not None else settings.docs_dirs
            raise IngestError("语料为空：没有找到任何文档 / empty corpus: no documents found in "
                              + ", ".join([*(str(d) for d in folders), content.documents.where]))
        model = choose_model(settings, versions, tuned_model, base_model)
        if model.note:
            report.warnings.append(model.note)
        encoder = usable_encoder(encoder, model)
        model_fp = build_model_fingerprint(model, encoder)
        labels = content.labels.labels() if settings.use_labels else []  # KB_USE_LABELS=false: as if none
        references = reference_texts(labels)
        fingerprint = _corpus_fingerprint(files, dict_folder, settings, model_fp, references)
        current = versions.current_id()
        if not force and current and versions.manifest(current).corpus_fingerprint == fingerprint:
            manifest = versions.manifest(current)
            report.changed = False
            report.version_id = current
            report.documents = manifest.counts.documents
            report.passages = manifest.counts.passages
            report.by_kind = manifest.counts.by_kind
            report.reused = report.passages
            report.errors = manifest.errors
            report.seconds = round(time.perf_counter() - t0, 3)
            return report
        with versions.build_lock():
            _build_and_publish(settings, content, dict_folder, dirs, encoder, model, model_fp, fingerprint,
                               report, progress, before_publish, labels, calibration)
    versions.cleanup(settings.keep_versions)
    report.seconds = round(time.perf_counter() - t0, 3)
    return report


def _build_and_publish(settings: Settings, content: Content, dict_folder: Path, dirs: list[Path] | None, encoder,
                       model: BuildModel, model_fp: str, fingerprint: str, report: BuildReport, progress: Progress,
                       before_publish: Callable[[Path], None] | None, labels: list[Label],
                       calibration: dict | None) -> None:
    """With the build lock held: read the corpus, embed what is new, write the version and publish it."""
    # The model loads (~1.4 s: ONNX sessions, the 250k-piece tokenizer) on another core while the
    # documents are cleaned and split; a corpus that needs no embedding just never waits for it.
    pending = load_encoder_async(settings, model.path) if encoder is None else None
    if model.tuned:
        content.versions.stage_model(model.tuned)
    try:
        _build_from_corpus(settings, content, dict_folder, dirs, encoder, pending, model, model_fp, fingerprint,
                           report, progress, before_publish, labels, calibration)
    finally:
        if pending is not None:  # loaded for this build alone: its threads would keep the model in memory
            pending.add_done_callback(close_loaded)


def _build_from_corpus(settings: Settings, content: Content, dict_folder: Path, dirs: list[Path] | None, encoder,
                       pending: Future | None, model: BuildModel, model_fp: str, fingerprint: str,
                       report: BuildReport, progress: Progress, before_publish: Callable[[Path], None] | None,
                       labels: list[Label], calibration: dict | None) -> None:
    with content.documents.local_files() as local:
        files, problems = list_files(settings, content.documents, dirs, local)
        documents, passages = collect_passages(files, problems, report, progress)
    for d in documents:  # where the document is kept, not the copy it was read from
        if d["info"]["uploaded"]:
            d["path"] = content.documents.location(d["doc_id"])
    if not passages:
        raise IngestError("没有得到任何段落 / no passages could be extracted: "
                          + "; ".join(f"{e['doc']}: {e['error']}" for e in report.errors))
    tokenizer = Tokenizer.from_folder(dict_folder)

    before = previous_version(content.versions, model_fp)
    previous = before.embedded_vectors() if before else {}  # embedding key -> vector: passages and sentences
    units = [sentence_units(indexed_text(p)) for p in passages]
    unit_texts = [u for us in units for u in us]
    unit_keys = [unit_key(u) for u in unit_texts]
    inputs = [embed_input(p) for p in passages]
    keys = [unit_key(x) for x in inputs]  # keyed by what the model sees, so a new recipe re-embeds
    todo = [i for i, key in enumerate(keys) if key not in previous]
    unit_todo = [j for j, key in enumerate(unit_keys) if key not in previous]
    references = reference_texts(labels)
    known = before.reference_vectors() if before else {}  # the label questions' vectors
    if (todo or unit_todo or any(text_key(t) not in known for t in references)) and encoder is None:
        encoder = pending.result()
    dim = encoder.dim if encoder is not None else len(next(iter(previous.values())))
    vectors = embed(passages, todo, previous, keys, inputs, encoder, dim, progress, "embed")
    unit_vectors = embed(unit_texts, unit_todo, previous, unit_keys, unit_texts, encoder, dim, progress,
                          "embed-sentences")
    unit_offsets = np.cumsum([0] + [len(us) for us in units]).astype(np.int64)
    report.embedded, report.reused = len(todo), len(passages) - len(todo)
    report.sentences_embedded = len(unit_todo)
    reference = build_reference(references, known, lambda texts: encoder.encode_queries(texts), dim) \
        if references else None
    report.labels = label_report(labels, passages)

    texts = [p.search_text for p in passages]
    built = VersionContent(
        documents, passages, vectors, keys, unit_vectors, unit_keys, unit_offsets,
        BM25Index.build([tokenizer.words(t) for t in texts], "words"),
        BM25Index.build([tokenizer.bigrams(t) for t in texts], "chars"), dict_folder, reference)
    progress("index", 0, 3)
    vid, folder = content.versions.begin()
    try:
        kind = write_contents(folder, built, settings, progress)
        by_kind = Counter(p.kind for p in passages)
        report.version_id = vid
        report.documents = len(documents)
        report.passages = len(passages)
        report.by_kind = {k: by_kind.get(k, 0) for k in KINDS}
        report.dense_index = kind
        manifest = Manifest(
            version=vid,
            created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            pipeline_version=PIPELINE_VERSION,
            model=model.path,
            model_fingerprint=model_fp,
            tuned_model=model.tuned,
            dim=int(dim),
            dense_index=kind,
            query_prompt=settings.query_prompt,
            passage_prompt=settings.passage_prompt,
            counts=Counts(documents=len(documents), passages=len(passages), by_kind=report.by_kind,
                          sentences=len(unit_texts)),
            documents={d["doc_id"]: d["sha256"] for d in documents},
            corpus_fingerprint=fingerprint,
            embedded=report.embedded,
            reused=report.reused,
            errors=report.errors,
        )
        # A model tuned on the labels makes their questions' own signals in-sample: its no-answer model comes
        # from `kb tune`'s held-out folds (given, or kept as stored), never from a fit on this version.
        calibrating = bool(labels) and settings.use_labels and calibration is None and model.tuned is None
        if calibrating or before_publish is not None:
            write_manifest(folder, manifest)  # the no-answer fit and the gate open the folder as a KB
        if calibrating:
            progress("calibrate", 0, 1)
            fitted = fit_for_version(settings, content, folder, encoder or pending.result(), labels)
            report.labels["calibration"] = fitted.get("model", {}).get("held_out") or fitted
            progress("calibrate", 1, 1)
        elif calibration is not None:
            fitted = {"model": calibration}
            report.labels["calibration"] = calibration.get("held_out") or calibration
        else:
            fitted = {}
            if model.tuned is not None and labels:
                report.labels["calibration"] = {"skipped": "tuned model: the no-answer model `kb tune` fitted on "
                                                           "held-out folds is kept"}
        if before_publish is not None:
            progress("gate", 0, 1)
            before_publish(folder)
        progress("publish", 0, 3)
        content.versions.publish(vid, folder, manifest, step=lambda n: progress("publish", n, 3))
        if "model" in fitted:  # fitted for this version's hub scores: stored once it is the one served
            content.calibration.put(fitted["model"])
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
