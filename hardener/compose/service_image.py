"""What a Compose service runs: its image's knowledge-base entry, or the Dockerfile its build: uses."""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from ruamel.yaml.nodes import Node, ScalarNode

from hardener.compose.doc import Service
from hardener.compose.splice import (
    mapping_get,
    scalar_value,
)
from hardener.context import Context
from hardener.knowledge import images
from hardener.limits import DEFAULT_MAX_FILE_SIZE, read_bounded

if TYPE_CHECKING:
    from hardener.dockerfile.doc import DockerfileDoc


def image_info(service: Service) -> tuple[str | None, images.ImageInfo | None]:
    """The KB entry of the service's image, or the reason there is none to rely on."""
    image = scalar_value(mapping_get(service.node, "image"))
    if not image:
        return extends_note(service.node) or "it has neither `image:` nor `build:`", None
    if "$" in image:
        image = literal_repository(image) or ""
        if not image:
            return f"the image {scalar_value(mapping_get(service.node, 'image'))!r} comes from a variable", None
    info = images.lookup(image)
    if info is None:
        return f"the image {image!r} is not in the knowledge base", None
    if info.facts.tier == "base":
        return f"{info.name} is a base image running an arbitrary command; what it needs cannot be known", None
    return None, info


def literal_image_info(service: Service) -> images.ImageInfo | None:
    """The KB entry of a literally named image, base images included (image_info skips them)."""
    image = scalar_value(mapping_get(service.node, "image"))
    return images.lookup(image) if image and "$" not in image else None


def extends_note(node: Node | None) -> str | None:
    """Why a service that takes its image from ``extends:`` gets nothing here: Compose merges
    the extended service into it, hardening included, so that service is the place to edit."""
    ext = mapping_get(node, "extends")
    if ext is None:
        return None
    name = scalar_value(ext) if isinstance(ext, ScalarNode) else scalar_value(mapping_get(ext, "service"))
    where = None if isinstance(ext, ScalarNode) else scalar_value(mapping_get(ext, "file"))
    base = f"{name!r}" + (f" in {where}" if where else "")
    return f"it extends {base}, which defines its image; hardening that service also hardens this one"


def literal_repository(image: str) -> str | None:
    """``postgres:${PG_VERSION}`` -> ``postgres``: only the tag comes from a variable. The facts
    image_info's callers read (capabilities, writable paths, health command, tier) belong to
    the repository, not the tag; None when the name itself holds a variable."""
    ref = image.split("@", 1)[0]
    masked = re.sub(r"\$\{[^}]*\}", lambda m: "$" * len(m.group(0)), ref)  # a ':-' default is no tag separator
    cut = masked.rfind(":")
    name, tag = ref[:cut], masked[cut + 1:]
    if cut <= 0 or "/" in tag or "$" in name or "$" not in tag:
        return None
    return name


def built_dockerfile(build: Node | None, ctx: Context) -> tuple[Path, DockerfileDoc] | None:
    """The Dockerfile a ``build:`` uses, parsed; None when it cannot be read here (a variable,
    a remote context, ``dockerfile_inline``, a missing or broken file)."""
    from hardener.dockerfile.doc import DockerfileDoc

    compose_dir = ctx.file.parent if ctx.file is not None else ctx.root
    if isinstance(build, ScalarNode):
        context, name = scalar_value(build), None
    else:
        context = scalar_value(mapping_get(build, "context"))
        name = scalar_value(mapping_get(build, "dockerfile"))
    if mapping_get(build, "dockerfile_inline") is not None:
        return None
    path = Path(compose_dir) / (context or ".") / (name or "Dockerfile")
    if "$" in str(path) or "://" in (context or "") or not path.is_file():
        return None
    try:
        return path, DockerfileDoc.load(read_bounded(path, DEFAULT_MAX_FILE_SIZE), str(path))
    except Exception:  # a broken Dockerfile is reported when the Dockerfile itself is processed
        return None


def built_user(build: Node, ctx: Context) -> str | None:
    """The final user of the Dockerfile a ``build:`` uses; None when it cannot be read."""
    found = built_dockerfile(build, ctx)
    stage = found[1].final_stage() if found else None
    if found is None or stage is None:
        return None
    user, _line = images.effective_user(images.resolve_stage(found[1], stage))
    return str(user)
