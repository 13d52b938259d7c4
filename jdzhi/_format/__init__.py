"""How results look as JSON: one function per kind of result, turning a library object into the
JSON object that ``jdzhi ... --json`` prints and the server sends (the shape of pip-audit's
``_format/``).

The library's types are plain frozen dataclasses with no presentation methods; the command line
(:mod:`jdzhi.commands`) and the server (:mod:`jdzhi.server`) both import these renderers, so
neither imports the other and the two cannot drift where they emit the same object. A module per
library area (``registry``, ``keys``, ``labels``, ``recalls``, ``similarity``, ``inspectors``,
``demo``, ``verification``, ``scanning``, ``records``, ``online``, ``database``), each function
named ``<kind>_json``; a new kind of result gets its function in its area's module (or a new
module for a new area) in the same pattern. The field names are contracts
(README, issues): change them only with the tests that pin them.
"""
