"""What a Node app needs from its build context (narrow-copy, HD305).

Rules (each is tested in tests/test_narrow_copy.py):

- Always: package.json and the lock and package-manager files present (package-lock.json,
  npm-shrinkwrap.json, yarn.lock, pnpm-lock.yaml, .yarnrc, .npmrc, .pnpmfile.cjs; for Yarn
  berry .yarnrc.yml, .yarn/ and the .pnp files). An .npmrc holding a credential (``_auth``,
  ``_authToken``, ``_password``) is refused as a secret.
- The entry files: ``node X`` (also nodemon, ts-node, tsx, pm2-runtime ``X.js``; ``node .``
  is ``main``) in the command a container runs or in a later RUN; ``npm start`` /
  ``npm run S`` / ``yarn S`` / ``pnpm S`` read package.json ``scripts`` (with their
  ``pre``/``post`` scripts; ``npm start`` without a start script runs ``node server.js``).
  Plus package.json ``main`` and the top-level names of its ``files``.
- The files those entries ``require``/``import``/``export … from``/``import()`` by a literal
  relative path (extensions and ``index`` files resolved; tsconfig ``paths``/``baseUrl``
  aliases too), transitively; and, as for Python, every top-level entry a scanned file
  names in a string literal (``express.static('public')``). A ``require``/``import()`` whose
  argument is not a string literal refuses ("dynamic require").
- When a known build tool runs (a script or a RUN: tsc, vite, next, nuxt, react-scripts,
  ng, nest, webpack, rollup, babel, parcel, esbuild, tsup, svelte-kit, astro, gatsby,
  remix, vue-cli-service, craco): ``src/``, ``public/``, ``static/``, the tool's own
  conventional directories and files (``index.html`` for vite, ``pages/``/``app/`` for next,
  …), every build config file present (tsconfig*.json, vite/webpack/rollup/next/nuxt/
  svelte/babel/postcss/tailwind/… configs, angular.json, .babelrc, .browserslistrc), the
  ``.env`` files tools that read them by convention load, the tsconfig ``include``/``files``
  (all TypeScript directories when it has neither) for tsc and nest, and the import graph
  of all of that code. An unknown program in a script that runs refuses.
- An install (``npm ci``, ``yarn``, ``pnpm install``) after the COPY runs the install
  lifecycle scripts (preinstall, install, postinstall, prepare), read like the others
  unless ``--ignore-scripts``.
- Refused: tests (npm test, jest, mocha, vitest …), linters, workspaces (monorepos),
  ``npm pack``/``publish``, installing the project itself, make and scripts from the
  context, gulp/grunt/lerna/nx/turbo, ``node -e``, a pm2 ecosystem file, a command
  narrow-copy cannot read, ``.``/``*`` arguments of other programs (chown/chmod/chgrp
  excepted), a context ``node_modules`` no later install replaces, and no entry at all.
"""
from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterable, Iterator
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hardener.plans.copy import js_imports
from hardener.repo_facts import read_text
from hardener.why import Why

if TYPE_CHECKING:
    from hardener.plans.copy.step import Step

NODE_MANIFESTS = ("package.json", "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml",
                  ".npmrc", ".yarnrc", ".yarnrc.yml", ".pnpmfile.cjs")
_BERRY = (".yarn", ".pnp.cjs", ".pnp.loader.mjs")
_RUNTIMES = frozenset({"node", "nodejs", "nodemon", "ts-node", "tsx", "bun"})
_NODE_VALUE_FLAGS = frozenset({"-r", "--require", "--import", "--loader", "--experimental-loader", "--env-file",
                               "--title", "-C", "--conditions", "--watch-path", "--exec", "-x", "-P", "--project"})
_WRAPPERS = {"env": 0, "exec": 0, "dumb-init": 0, "tini": 0, "nice": 0, "time": 0, "cross-env": 0,
             "docker-entrypoint.sh": 0, "su-exec": 1, "gosu": 1, "npx": 0, "pnpx": 0, "bunx": 0}
_BUILD_DIRS = ("src", "public", "static")
_TOOLS: dict[str, tuple[str, ...]] = {
    "tsc": (), "vite": ("index.html",), "next": ("pages", "app", "styles", "middleware.js", "middleware.ts"),
    "nuxt": ("assets", "components", "composables", "content", "layouts", "middleware", "modules", "pages",
             "plugins", "server", "store", "stores", "utils", "app.vue", "error.vue"),
    "react-scripts": (), "craco": (), "ng": ("projects",), "nest": (), "webpack": (), "webpack-cli": (),
    "rollup": (), "babel": (), "parcel": (), "esbuild": (), "tsup": (), "svelte-kit": (), "astro": (),
    "gatsby": ("plugins",), "remix": ("app",), "vue-cli-service": (), "ts-node": (), "tsx": (),
}
_TOOLS["nuxi"] = _TOOLS["nuxt"]
_ENV_TOOLS = frozenset({"vite", "next", "nuxt", "nuxi", "react-scripts", "craco", "vue-cli-service", "astro",
                        "svelte-kit", "gatsby", "remix"})
_CONFIG = re.compile(r"(tsconfig[\w.-]*|jsconfig|angular|nest-cli|\.babelrc|\.swcrc|\.postcssrc|\.parcelrc)(\.json|\.js|\.cjs)?"
                     r"|((vite|vitest|webpack|rollup|next|nuxt|svelte|astro|babel|postcss|tailwind|remix|craco|vue|tsup"
                     r"|gatsby-(config|node|browser|ssr)|app\.config)(\.[\w-]+)*\.(js|cjs|mjs|ts|cts|mts|json))"
                     r"|\.browserslistrc|browserslist|(next|vite)-env\.d\.ts|env\.d\.ts"
                     r"|\.eslintrc(\.\w+)?|eslint\.config\.\w+|\.prettierrc(\.\w+)?|prettier\.config\.\w+")
_TESTS = frozenset({"jest", "mocha", "vitest", "ava", "tap", "karma", "playwright", "cypress", "c8", "nyc"})
_PROD_ONLY = re.compile(r"--omit[= ]dev|--production|--only[= ]prod|--prod\b|(^|\s)-P\b")
_TEST_DIRS = re.compile(r"tests?|__tests__|specs?|e2e|test-?\w*")
_LINT = frozenset({"eslint", "prettier", "tslint", "stylelint", "xo", "standard"})
_UNKNOWN_BUILD = frozenset({"gulp", "grunt", "brunch", "ember", "meteor", "lerna", "nx", "turbo", "bower", "make"})
_HARMLESS = frozenset({"rm", "rimraf", "mkdir", "mkdirp", "cp", "cpx", "copyfiles", "mv", "echo", "true", "chmod",
                       "chown", "chgrp", "touch", "ln", "del", "del-cli", "sleep", "exit", "printf", "test", "[",
                       "serve", "http-server", "shx"})
_WHOLE = frozenset({".", "./", "*", "./*"})
_BUN_SUBS = frozenset({"run", "install", "i", "add", "x", "test", "ci", "build"})
_READS = {"patch-package": ("patches",), "prisma": ("prisma",), "husky": (".husky",)}  # by convention
_YARN_BUILTINS = frozenset({"add", "remove", "upgrade", "up", "global", "cache", "config", "set", "plugin", "policies",
                            "audit", "autoclean", "info", "why", "bin", "licenses", "version", "prune", "rebuild",
                            "outdated", "list", "ls", "link", "unlink", "store", "env", "init", "import", "npm"})


def split_code(code: str) -> list[list[str]] | None:
    """Simple commands of a shell string (a script, ``sh -c``), split at ``&& || ; | & ( )``."""
    try:
        lexer = shlex.shlex(code, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words = list(lexer)
    except ValueError:
        return None
    out: list[list[str]] = [[]]
    for word in words:
        if word and set(word) <= set("&|;()"):
            out.append([])
        else:
            out[-1].append(word)
    for argv in out:  # a compound command's reserved words are not programs
        while argv and argv[0] in ("if", "then", "else", "elif", "do", "while", "until", "!", "{", "time"):
            del argv[0]
    return [argv for argv in out if argv]


def expand(argvs: Iterable[list[str]]) -> Iterator[list[str] | None]:
    """The commands, with ``sh -c 'code'`` replaced by the commands of its code (None: unreadable)."""
    for argv in argvs:
        if len(argv) > 2 and argv[0].rsplit("/", 1)[-1] in ("sh", "bash", "ash", "dash") and argv[1] == "-c":
            inner = split_code(argv[2])
            yield from ([None] if inner is None else expand(inner))
        else:
            yield argv


def node_needs(directory: Path, paths: frozenset[str], steps: list[Step], dev_installed: bool = False) -> set[str] | Why:
    """Top-level entries a Node app needs, or why they cannot be known; ``dev_installed``: an
    earlier RUN installed the dependencies with devDependencies."""
    tops = {p for p in paths if "/" not in p}
    pkg = js_imports.read_json(directory / "package.json")
    if not isinstance(pkg, dict):
        return Why("package.json cannot be read as a JSON object")
    if pkg.get("workspaces") or {"pnpm-workspace.yaml", "lerna.json"} & tops:
        return Why("a workspace (monorepo) project: each workspace's needs are not followed")
    npmrc = read_text(directory / ".npmrc") if ".npmrc" in tops else ""
    if re.search(r"_(auth|authToken|password)\s*=", npmrc):
        return Why(".npmrc holds a registry credential (a secret): pass it with RUN --mount=type=secret")
    app = _App(directory, paths, pkg)
    app.dev_installs += dev_installed
    for step in steps:
        why = app.step(step)
        if why:
            return Why(why)
    if "node_modules" in tops and not app.installs:
        return Why("node_modules is in the build context and no later install replaces it; add it to .dockerignore")
    if app.missing and not app.tools:
        return Why(f"the command runs {app.missing[0]}, which is not in the build context and no known tool builds it")
    if not app.entries and not app.tools:
        return Why("no Node entrypoint in the command this stage runs (`node app.js`, `npm start`) and no known build")
    need = {m for m in NODE_MANIFESTS if m in tops} | ({b for b in _BERRY if b in tops} if ".yarnrc.yml" in tops else set())
    found = app.finish(need)
    if isinstance(found, Why):
        return found
    left = app.tests_left_out(found)
    return Why(left) if left else found


def keeps_dev_dependencies(install_flags: str) -> bool:
    """Whether an npm/yarn/pnpm install with these words installs devDependencies too."""
    return not _PROD_ONLY.search(install_flags)


class _App:
    def __init__(self, directory: Path, paths: frozenset[str], pkg: dict[str, Any]) -> None:
        self.directory, self.paths, self.pkg = directory, paths, pkg
        self.tops = {p for p in paths if "/" not in p}
        self.scripts = pkg["scripts"] if isinstance(pkg.get("scripts"), dict) else {}
        self.entries: list[str] = []
        self.missing: list[str] = []
        self.tools: set[str] = set()
        self.texts: list[str] = []
        self.installs = 0
        self.dev_installs = 0  # installs that keep devDependencies (no --omit=dev, --production …)
        self.seen: set[str] = set()
        self.tsconfigs: list[str] = []
        self.extra: set[str] = set()
        dirs = {p.rsplit("/", 1)[0] for p in paths if "/" in p}
        self.files = frozenset(p for p in paths if p not in dirs)

    def step(self, step: Step) -> str | None:
        where = "the command" if step.keyword == "CMD" else f"the RUN at line {step.line}"
        if step.argvs is None:
            return f"{where} cannot be split into simple commands"
        cwd = step.base
        for argv in expand(step.argvs):
            if argv is None:
                return f"{where} cannot be split into simple commands"
            if argv[0] == "cd" and len(argv) > 1:
                cwd = step.locate(argv[1], cwd)
                continue
            why = self.command(argv, step, cwd, where, "cmd" if step.keyword == "CMD" else "run")
            if why:
                return why
        return None

    def command(self, argv: list[str], step: Step, cwd: str | None, where: str, kind: str) -> str | None:
        argv = _unwrap(argv)
        if not argv:
            return None
        name = argv[0].rsplit("/", 1)[-1]
        words = [w for w in argv[1:] if not w.startswith("-")]
        bun_sub = name == "bun" and words[:1] and (words[0] in self.scripts or words[0] in _BUN_SUBS)
        if name in _RUNTIMES and not bun_sub:
            return self.runtime(name, argv[1:], step, cwd, where)
        if name in ("npm", "yarn", "pnpm", "bun"):
            return self.manager(name, words, argv, step, where)
        if name in ("pm2-runtime", "pm2"):
            files = [w for w in words if w != "start"]
            if not files or not files[0].endswith((".js", ".cjs", ".mjs")):
                return f"{where} starts pm2 with an ecosystem file: the apps it starts are not followed"
            return self.runtime("node", files[:1], step, cwd, where)
        if name in ("npm-run-all", "run-s", "run-p"):
            for pattern in words:
                for script in sorted(s for s in self.scripts if fnmatchcase(s, pattern)):
                    why = self.script(script, step)
                    if why:
                        return why
            return None
        if name in _TOOLS:
            self.tools.add(name)
            self.texts.append(" ".join(argv))
            if name == "tsc":
                project = next((argv[i + 1] for i, w in enumerate(argv[:-1]) if w in ("-p", "--project")), None)
                self.tsconfigs.append(project or "tsconfig.json")
            elif name == "nest":
                self.tsconfigs.append("tsconfig.build.json" if "tsconfig.build.json" in self.tops else "tsconfig.json")
            return None
        if name in _READS:
            self.extra |= set(_READS[name])
            self.texts.append(" ".join(argv))
            return None
        if name in _TESTS:
            return f"{where} runs the tests ({name} reads the test files)"
        if name in _LINT:
            return f"{where} runs {name}, which reads the whole tree"
        if name in _UNKNOWN_BUILD:
            return f"{where} runs {name}, whose inputs narrow-copy cannot know"
        script = argv[1] if name in ("sh", "bash", "ash", "dash") and len(argv) > 1 else argv[0]
        if "/" in script or script.endswith(".sh"):
            rel = step.locate(script, cwd)
            if rel is not None and rel.split("/")[0] in self.tops:
                return f"{where} runs {script} from the build context: what it reads cannot be known"
        if name in _HARMLESS or kind == "run":
            if kind == "run" and name not in ("chown", "chmod", "chgrp") and any(a in _WHOLE for a in argv[1:]):
                return f"{where} works on the whole copied tree"
            return None
        if step.optional:
            return None
        if kind == "script":
            return f"{where} runs {name}, a tool narrow-copy does not know"
        return f"{where} runs {name}, not a Node entrypoint narrow-copy can follow (`node app.js`, `npm start`)"

    def runtime(self, name: str, args: list[str], step: Step, cwd: str | None, where: str) -> str | None:
        if name in ("ts-node", "tsx"):
            self.tools.add(name)
        if name == "nodemon":
            self.extra |= {"nodemon.json"}  # read by convention
        skip = False
        for word in args:
            if skip:
                skip = False
                if word.startswith("."):
                    self.entry(word, step, cwd)
            elif word in ("-e", "--eval", "-p", "--print"):
                return f"{where} runs inline code ({name} {word})"
            elif word.startswith("-"):
                skip = word in _NODE_VALUE_FLAGS
            else:
                if name == "bun" and word == "run":
                    continue
                self.entry(word, step, cwd)
                return None
        return None

    def entry(self, word: str, step: Step, cwd: str | None) -> None:
        rel = step.locate(word, cwd)
        if rel is None:
            if not step.optional:
                self.missing.append(word)
            return
        found = self.main() if rel in ("", ".") else js_imports.resolve(self.files, rel)
        if found:
            self.entries.append(found)
        elif not step.optional:
            self.missing.append(word)

    def main(self) -> str | None:
        declared = self.pkg.get("main")
        main = declared if isinstance(declared, str) else "index.js"
        return js_imports.resolve(self.files, posixpath.normpath(main))

    def manager(self, name: str, words: list[str], argv: list[str], step: Step, where: str) -> str | None:
        sub = words[0] if words else "install"
        if sub in ("test", "t", "tst"):
            return f"{where} runs the tests ({name} test)"
        if sub in ("workspace", "workspaces") or "--workspace" in argv or "-w" in argv:
            return f"{where} runs a workspace command: each workspace's needs are not followed"
        if sub in ("pack", "publish"):
            return f"{where} runs {name} {sub}, which reads the whole package"
        if sub in ("ci", "install", "i", "in", "isntall", "add", "it"):
            if any(w.startswith((".", "/")) for w in words[1:]):
                return f"{where} installs the project itself"
            if "-g" in argv or "--global" in argv:
                return None
            if step.keyword == "RUN":
                self.installs += 1
                self.dev_installs += keeps_dev_dependencies(" ".join(argv))
                if "--ignore-scripts" not in argv:
                    return self.lifecycle(step)
            return None
        if sub in ("exec", "x", "dlx"):
            rest = argv[argv.index(sub) + 1 :]
            rest = rest[rest.index("--") + 1 :] if "--" in rest else [w for w in rest if not w.startswith("-")]
            return self.command(rest, step, step.base, where, "script") if rest else None
        run = sub in ("run", "run-script", "rum", "urn")
        if run:
            if len(words) < 2:
                return None
            sub = words[1]
        if sub == "start" and "start" not in self.scripts and name in ("npm", "pnpm"):
            self.entry("server.js", step, "")  # what npm start runs without a start script
            return None
        if sub in self.scripts:
            return self.script(sub, step)
        if run:
            return None if step.optional else f"{where} runs the script {sub}, which package.json does not define"
        if name == "npm" or sub in _YARN_BUILTINS:
            return None
        return self.command(words, step, step.base, where, "script")  # yarn/pnpm <bin>

    def lifecycle(self, step: Step) -> str | None:
        for hook in ("preinstall", "install", "postinstall", "prepublish", "preprepare", "prepare", "postprepare"):
            if hook in self.scripts:
                why = self.script(hook, step, hooks=False)
                if why:
                    return why
        return None

    def script(self, name: str, step: Step, hooks: bool = True) -> str | None:
        names = [f"pre{name}", name, f"post{name}"] if hooks else [name]
        for script in [n for n in names if n in self.scripts and n not in self.seen]:
            self.seen.add(script)
            text = self.scripts[script]
            if not isinstance(text, str):
                continue
            self.texts.append(text)
            argvs = split_code(text)
            if argvs is None:
                return f"the script {script} cannot be split into simple commands"
            for argv in argvs:
                if argv[0] == "cd":
                    return f"the script {script} changes directory: its paths are not followed"
                why = self.command(argv, _at_root(step), "", f"the script {script}", "script")
                if why:
                    return why
        return None

    def finish(self, need: set[str]) -> set[str] | Why:
        from hardener.plans.copy.python import mentioned

        starts = list(self.entries)
        main = self.main()
        if main and isinstance(self.pkg.get("main"), str):
            starts.append(main)
        for entry in self.pkg.get("files") or []:
            if isinstance(entry, str) and not entry.startswith("!"):
                top = entry.removeprefix("./").split("/")[0]
                need |= {top} & self.tops
        if self.tools:
            conventional = set(_BUILD_DIRS) | {d for t in self.tools for d in _TOOLS[t]}
            need |= conventional & self.tops
            need |= {t for t in self.tops if _CONFIG.fullmatch(t)}
            if self.tools & _ENV_TOOLS:
                need |= {t for t in self.tops if t == ".env" or t.startswith(".env.")}
            for config in self.tsconfigs:
                need |= self.ts_inputs(config)
            starts += [p for p in sorted(self.paths) if p.split("/")[0] in need and p.endswith(js_imports.CODE)]
        need |= self.extra & self.tops
        found = js_imports.reached(self.directory, self.files, self.tops, starts, js_imports.aliases(self.directory, self.tops))
        if isinstance(found, Why):
            return found
        return need | found | mentioned(self.texts, self.tops)

    def tests_left_out(self, need: set[str]) -> str | None:
        """Why narrowing would break the tests the image can run: package.json has a test
        script whose runner the image installs (devDependencies kept), and its test files are
        in a top-level folder the narrowed COPY leaves out (`docker compose exec app npm test`)."""
        script = self.scripts.get("test")
        if not isinstance(script, str) or not self.dev_installs:
            return None
        deps = {**(self.pkg.get("dependencies") or {}), **(self.pkg.get("devDependencies") or {})}
        runner = next((t for t in sorted(_TESTS) if t in deps and re.search(rf"\b{t}\b", script)), None)
        left = sorted(t for t in self.tops - need if _TEST_DIRS.fullmatch(t) and t not in self.files)
        if runner is None or not left:
            return None
        return (f"package.json's test script runs {runner}, which the image installs, and its tests are in "
                f"{left[0]}/, which a narrowed COPY would leave out (`npm test` in a container of this image "
                "would find none); add it to .dockerignore if the image never runs them")

    def ts_inputs(self, config: str, depth: int = 0) -> set[str]:
        """A tsconfig's own file, what it extends or references, and the top-level entries its
        include/files name (every directory holding TypeScript when a pattern starts with a glob)."""
        rel = posixpath.normpath(config.removeprefix("./"))
        if rel in self.paths and rel not in self.files:
            rel = f"{rel}/tsconfig.json"  # a reference or -p may name the directory
        if depth > 8:
            return set()
        data = js_imports.read_json(self.directory / rel, comments=True)
        found = {rel.split("/")[0]} & self.tops
        if not isinstance(data, dict):
            return found
        here = posixpath.dirname(rel)
        if isinstance(data.get("extends"), str) and data["extends"].startswith("."):
            found |= self.ts_inputs(posixpath.join(here, data["extends"]), depth + 1)
        for ref in data.get("references") or []:
            if isinstance(ref, dict) and isinstance(ref.get("path"), str):
                found |= self.ts_inputs(posixpath.join(here, ref["path"]), depth + 1)
        listed = [str(p).removeprefix("./") for p in [*(data.get("include") or []), *(data.get("files") or [])]]
        if any(re.search(r"[*?\[]", p.split("/")[0]) for p in listed) or (
                "include" not in data and "files" not in data and "extends" not in data):
            listed += [p for p in self.files if p.endswith((".ts", ".tsx", ".mts", ".cts")) and
                       not p.startswith("node_modules/")]
        return found | {posixpath.normpath(posixpath.join(here, p)).split("/")[0] for p in listed} & self.tops


def _at_root(step: Step) -> Step:
    from dataclasses import replace

    return replace(step, base="", argvs=[])


def _unwrap(argv: list[str]) -> list[str]:
    while argv:
        name = argv[0].rsplit("/", 1)[-1]
        if re.match(r"[A-Za-z_]\w*=", argv[0]):
            argv = argv[1:]
        elif name in _WRAPPERS:
            argv = argv[1 + _WRAPPERS[name] :]
            while argv and argv[0].startswith("-"):
                argv = argv[2:] if argv[0] in ("-p", "--package") else argv[1:]
        elif argv[0] == "--":
            argv = argv[1:]
        elif argv[0].startswith("node_modules/.bin/"):
            argv = [name, *argv[1:]]
        else:
            break
    return argv
