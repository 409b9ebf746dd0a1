# C-level access to the slots of the generated message classes, for the compiled EXI runtime.
# The runtime reads and writes a slot at the offset its member descriptor records, which skips the
# attribute lookup by name. It only does so on objects whose type it has checked to be exactly the
# generated class the offsets were taken from.
from cpython.ref cimport PyObject, Py_INCREF, Py_XDECREF

cdef extern from "Python.h":
    ctypedef struct PyMemberDef:
        Py_ssize_t offset
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member
    PyObject* Py_None


cdef inline Py_ssize_t slot_offset(object descr) except -1:
    if type(descr).__name__ != "member_descriptor":
        raise TypeError(f"{descr!r} is not a slot")
    return (<PyMemberDescrObject*><PyObject*>descr).d_member.offset


cdef inline object slot_get(object obj, Py_ssize_t off):
    cdef PyObject* v = (<PyObject**>((<char*><PyObject*>obj) + off))[0]
    if v == NULL:
        return None
    return <object>v


cdef inline void slot_set(object obj, Py_ssize_t off, object value) noexcept:
    cdef PyObject** p = <PyObject**>((<char*><PyObject*>obj) + off)
    cdef PyObject* old = p[0]
    Py_INCREF(value)
    p[0] = <PyObject*>value
    Py_XDECREF(old)


cdef inline void slot_fill_none(object obj, Py_ssize_t off) noexcept:
    # an unset slot (NULL: the object was allocated without __init__) set to None
    cdef PyObject** p = <PyObject**>((<char*><PyObject*>obj) + off)
    if p[0] == NULL:
        Py_INCREF(None)
        p[0] = Py_None


cdef inline void slots_fill_none(object obj, Py_ssize_t off, Py_ssize_t n) noexcept:
    # slot_fill_none on the n consecutive slots from offset off (a slotted class's own slots are laid
    # out one after the other, in the order of __slots__)
    cdef PyObject** p = <PyObject**>((<char*><PyObject*>obj) + off)
    cdef Py_ssize_t i
    for i in range(n):
        if p[i] == NULL:
            Py_INCREF(None)
            p[i] = Py_None
