"""Small helpers for namespaced XML exports (Disqus, WordPress): match by local name, stream items."""
from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from typing import Optional


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def child(element: ElementTree.Element, name: str) -> Optional[ElementTree.Element]:
    for item in element:
        if local(item.tag) == name:
            return item
    return None


def text(element: Optional[ElementTree.Element], *path: str) -> Optional[str]:
    """The stripped text at ``path`` below ``element`` (local names), or None when absent or empty."""
    for name in path:
        if element is None:
            return None
        element = child(element, name)
    if element is None or element.text is None:
        return None
    value = element.text.strip()
    return value or None


def attribute(element: Optional[ElementTree.Element], name: str) -> Optional[str]:
    if element is None:
        return None
    for key, value in element.attrib.items():
        if local(key) == name:
            return value
    return None
