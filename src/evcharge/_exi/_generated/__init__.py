"""Generated EXI grammars and message classes (see evcharge._exi.codegen). DO NOT EDIT."""
