# -*- coding: utf-8 -*-
# Copyright: cfpages.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# PRIVATE to the collection: not a public API, may change without notice.

"""The content type a direct upload sends for each asset, as wrangler does (mime@3)."""

from __future__ import annotations

#: Content types by lower-case extension, as mime@3's ``getType`` (the table wrangler uses)
#: answers for the common web types. Anything else is ``application/octet-stream``.
MIME_TYPES = {
    # documents and text
    "html": "text/html", "htm": "text/html", "shtml": "text/html",
    "xhtml": "application/xhtml+xml",
    "css": "text/css",
    "js": "application/javascript", "mjs": "application/javascript", "cjs": "application/node",
    "jsx": "text/jsx",
    "json": "application/json", "map": "application/json", "jsonld": "application/ld+json",
    "webmanifest": "application/manifest+json",
    "txt": "text/plain", "text": "text/plain", "ini": "text/plain", "conf": "text/plain",
    "md": "text/markdown", "markdown": "text/markdown",
    "xml": "application/xml", "xsl": "application/xml", "xsd": "application/xml",
    "rss": "application/rss+xml", "atom": "application/atom+xml",
    "csv": "text/csv", "tsv": "text/tab-separated-values",
    "yaml": "text/yaml", "yml": "text/yaml", "toml": "application/toml",
    "ics": "text/calendar", "vcf": "text/x-vcard", "vtt": "text/vtt", "srt": "application/x-subrip",
    "appcache": "text/cache-manifest", "manifest": "text/cache-manifest",
    "sass": "text/x-sass", "scss": "text/x-scss", "less": "text/less",
    "sh": "application/x-sh", "php": "application/x-httpd-php", "sql": "application/x-sql",
    "rtf": "application/rtf", "pdf": "application/pdf",
    "ai": "application/postscript", "eps": "application/postscript", "ps": "application/postscript",
    "doc": "application/msword", "xls": "application/vnd.ms-excel", "ppt": "application/vnd.ms-powerpoint",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
    "epub": "application/epub+zip",
    # images
    "svg": "image/svg+xml", "svgz": "image/svg+xml",
    "png": "image/png", "apng": "image/apng",
    "jpg": "image/jpeg", "jpeg": "image/jpeg", "jpe": "image/jpeg",
    "gif": "image/gif", "webp": "image/webp", "avif": "image/avif",
    "heic": "image/heic", "heif": "image/heif", "bmp": "image/bmp",
    "ico": "image/vnd.microsoft.icon", "tif": "image/tiff", "tiff": "image/tiff",
    "psd": "image/vnd.adobe.photoshop",
    # fonts
    "woff": "font/woff", "woff2": "font/woff2", "ttf": "font/ttf", "otf": "font/otf",
    "eot": "application/vnd.ms-fontobject",
    # audio and video
    "mp4": "video/mp4", "m4v": "video/x-m4v", "webm": "video/webm", "ogv": "video/ogg",
    "mpeg": "video/mpeg", "mpg": "video/mpeg", "mov": "video/quicktime", "avi": "video/x-msvideo",
    "mkv": "video/x-matroska", "3gp": "video/3gpp", "ts": "video/mp2t",
    "mp3": "audio/mpeg", "m4a": "audio/mp4", "wav": "audio/wav", "ogg": "audio/ogg",
    "oga": "audio/ogg", "opus": "audio/ogg", "flac": "audio/x-flac", "aac": "audio/x-aac",
    # 3D models
    "gltf": "model/gltf+json", "glb": "model/gltf-binary", "obj": "model/obj", "stl": "model/stl",
    "usdz": "model/vnd.usdz+zip",
    # archives and binaries
    "wasm": "application/wasm",
    "zip": "application/zip", "gz": "application/gzip", "tar": "application/x-tar",
    "bz2": "application/x-bzip2", "7z": "application/x-7z-compressed", "rar": "application/vnd.rar",
    "jar": "application/java-archive", "apk": "application/vnd.android.package-archive",
    "swf": "application/x-shockwave-flash", "rpm": "application/x-redhat-package-manager",
    "bin": "application/octet-stream", "exe": "application/octet-stream",
    "dmg": "application/octet-stream", "iso": "application/octet-stream",
    "img": "application/octet-stream", "msi": "application/octet-stream", "deb": "application/octet-stream",
}
DEFAULT_CONTENT_TYPE = "application/octet-stream"


def content_type_of(relpath):
    """The content type wrangler sends for a file: mime@3 ``getType(relpath)`` (``relpath`` is
    relative to the site, ``/``-separated, with or without a leading ``/``), else octet-stream.

    Like mime@3, a name without a dot is looked up whole only at the top level (a file named
    ``json`` is ``application/json``, ``a/json`` is not), and a leading dot is not an extension.
    """
    relpath = relpath.lstrip("/")
    last = relpath.rpartition("/")[2].rpartition("\\")[2].lower()
    has_path = len(last) < len(relpath)
    ext = last.rsplit(".", 1)[-1]
    has_dot = len(ext) < len(last) - 1
    if has_dot or not has_path:
        return MIME_TYPES.get(ext) or DEFAULT_CONTENT_TYPE
    return DEFAULT_CONTENT_TYPE
