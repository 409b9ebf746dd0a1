"""Run an :class:`~evcharge.ocpp.rpc.RpcConnection` on an asyncio websocket for a routing ``Peer``.

The session owns the loop-side parts only: it reads messages, feeds them to the core, writes the core's
frames, arms the core's timer with ``loop.call_at``, runs each incoming CALL's handler in its own task (so a
handler can call the same peer back while the reader keeps reading) and resolves the futures of our calls.
Every protocol decision is the core's.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Literal, Protocol

from evcharge.ocpp import rpc
from evcharge.ocpp.errors import (
    CallTimeoutError,
    InvalidResponseError,
    LocalProtocolError,
    NotConnectedError,
    OcppCallError,
    RemoteProtocolError,
)
from evcharge.ocpp.routing import Peer

__all__ = ["FrameTrace", "OcppSession", "WebSocketLike"]

#: The frame trace hook of a session, called with ``(direction, message)``, direction ``"in"`` or ``"out"``.
FrameTrace = Callable[[Literal["in", "out"], str], None]

log = logging.getLogger("evcharge.ocpp")


class WebSocketLike(Protocol):
    """The part of a ``websockets`` connection the session uses."""

    def __aiter__(self) -> AsyncIterator[str | bytes]: ...

    async def send(self, message: bytes, *, text: bool | None = None) -> None: ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


class OcppSession:
    """One OCPP connection: a websocket, the RPC core, and the peer object whose handlers answer.

    ``trace`` sees every text frame, received (``"in"``, before the core reads it) and written (``"out"``, once
    the websocket took it).  A peer with ``after_hooks(action)`` (see :func:`evcharge.ocpp.csms.after`) has its
    hooks run, each in its own task, once the CALLRESULT of that action has been written.
    """

    def __init__(
        self,
        websocket: WebSocketLike,
        version: rpc.VersionModule,
        peer: Peer,
        config: rpc.RpcConfig | None = None,
        *,
        rng: random.Random | None = None,
        trace: FrameTrace | None = None,
    ) -> None:
        self.websocket = websocket
        self.trace = trace
        self._after: list[tuple[list[Callable[[Any, Any], Any]], Any, Any]] = []
        self.core = rpc.RpcConnection(version, config, rng=rng)
        self.peer = peer
        self._loop = asyncio.get_running_loop()
        self._futures: dict[str, asyncio.Future[Any]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._send_lock = asyncio.Lock()
        self._closed = False

    @property
    def version(self) -> rpc.VersionModule:
        """The version module of this connection."""
        return self.core.version

    # ------------------------------------------------------------------ the peer's Link

    async def call(self, action: str, request: Any, timeout: float | None = None) -> Any:
        """Make a CALL and wait for its typed answer (see :meth:`evcharge.ocpp.routing.Peer.call`)."""
        if self._closed:
            raise NotConnectedError("the connection is closed")
        mid = self.core.new_message_id()
        self.core.send(rpc.StartCall(message_id=mid, action=action, request=request, timeout=timeout),
                       self._loop.time())
        fut: asyncio.Future[Any] = self._loop.create_future()
        self._futures[mid] = fut
        self._after_core()
        await self._flush()
        try:
            return await fut
        except asyncio.CancelledError:
            if not self._closed:
                self.core.send(rpc.CancelCall(message_id=mid), self._loop.time())
                self._after_core()
                await self._flush()
            raise

    async def send(self, action: str, request: Any) -> None:
        """OCPP 2.1 SEND."""
        if self._closed:
            raise NotConnectedError("the connection is closed")
        self.core.send(rpc.SendUnconfirmed(message_id=self.core.new_message_id(), action=action, request=request),
                       self._loop.time())
        await self._flush()

    async def close(self) -> None:
        """Close the websocket; :meth:`run` returns once it is closed."""
        await self.websocket.close()

    # ------------------------------------------------------------------ running

    async def run(self) -> None:
        """Serve the connection until the websocket closes."""
        self.peer.attach(self)
        try:
            await self._call_hook(self.peer.on_connected)
            async for message in self.websocket:
                if self.trace is not None:
                    self._trace("in", message)
                self.core.receive_data(message, self._loop.time())
                self._after_core()
                await self._flush()
        except ConnectionError:
            pass
        except Exception as exc:
            if type(exc).__module__.startswith("websockets"):
                log.debug("websocket closed: %s", exc)
            else:
                raise
        finally:
            self._shutdown()
            await self._call_hook(self.peer.on_disconnected)

    def _trace(self, direction: Literal["in", "out"], message: str | bytes) -> None:
        assert self.trace is not None
        try:
            self.trace(direction, message if isinstance(message, str) else message.decode("utf-8", "replace"))
        except Exception:
            log.exception("the frame trace hook failed")

    async def _call_hook(self, hook: Callable[[], Awaitable[None]]) -> None:
        try:
            await hook()
        except Exception:
            log.exception("%s failed", getattr(hook, "__qualname__", hook))

    def _shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        self.core.connection_closed()
        self._dispatch_events()
        for fut in self._futures.values():
            if not fut.done():
                fut.set_exception(NotConnectedError("the connection closed"))
        self._futures.clear()
        self.peer.attach(None)
        for task in list(self._tasks):
            task.cancel()

    async def _flush(self) -> None:
        if self._closed:
            self.core.data_to_send()
            self._after.clear()
            return
        async with self._send_lock:
            # the answers and their after-hooks are taken together: a hook runs once its answer is written
            messages, after = self.core.data_to_send(), self._after
            self._after = []
            for message in messages:
                try:
                    await self.websocket.send(message, text=True)  # OCPP-J: UTF-8 text frames
                except Exception as exc:  # the websocket closed under us: the reader notices and shuts down
                    log.debug("send failed: %s", exc)
                    return
                if self.trace is not None:
                    self._trace("out", message)
        for hooks, request, response in after:
            for hook in hooks:
                self._spawn(self._run_after(hook, request, response))

    async def _run_after(self, hook: Callable[[Any, Any], Any], request: Any, response: Any) -> None:
        try:
            result = hook(request, response)
            if inspect.isawaitable(result):
                await result
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("after-answer hook %s failed", getattr(hook, "__qualname__", hook))

    # ------------------------------------------------------------------ core events and timer

    def _after_core(self) -> None:
        self._dispatch_events()
        at = self.core.get_timer()
        if at != self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self._loop.call_at(at, self._on_timer) if at is not None and not self._closed else None
            self._timer_at = at

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        self.core.handle_timer(self._loop.time())
        self._after_core()
        self._spawn(self._flush())

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _resolve(self, mid: str, result: Any = None, error: BaseException | None = None) -> None:
        fut = self._futures.pop(mid, None)
        if fut is None or fut.done():
            return
        if error is not None:
            fut.set_exception(error)
        else:
            fut.set_result(result)

    def _dispatch_events(self) -> None:
        while (ev := self.core.next_event()) is not None:
            if isinstance(ev, rpc.CallReceived):
                self._on_call(ev)
            elif isinstance(ev, rpc.ResultReceived):
                self._resolve(ev.message_id, ev.response)
            elif isinstance(ev, rpc.ErrorReceived):
                self._resolve(ev.message_id,
                              error=OcppCallError(ev.error_code, ev.error_description, dict(ev.error_details)))
            elif isinstance(ev, rpc.ResponseInvalid):
                self._resolve(ev.message_id, error=InvalidResponseError(ev.error_code, ev.reason))
            elif isinstance(ev, rpc.CallTimedOut):
                self._resolve(ev.message_id, error=CallTimeoutError(f"no answer to {ev.action} {ev.message_id}"))
            elif isinstance(ev, rpc.CallAborted):
                self._resolve(ev.message_id, error=NotConnectedError(f"{ev.action} aborted: {ev.reason}"))
            elif isinstance(ev, rpc.SendReceived):
                self._on_send(ev)
            elif isinstance(ev, rpc.ResultErrorReceived):
                log.warning("peer could not process our %s result %s: %s %s", ev.action, ev.message_id,
                            ev.error_code, ev.error_description)
                self.peer.on_result_error(ev.action, ev.error_code, ev.error_description)
            else:
                log.warning("protocol violation by the peer: %s", ev.description)
                self.peer.on_protocol_violation(ev.description)

    def _on_call(self, ev: rpc.CallReceived) -> None:
        if ev.warnings:
            log.warning("%s %s accepted leniently: %s", ev.action, ev.message_id, "; ".join(ev.warnings))
        handler = self.peer.handler_for(ev.action)
        if handler is None:
            self.core.send(rpc.SendError(message_id=ev.message_id, code="NotSupported",
                                         description=f"{ev.action} is not supported"), self._loop.time())
        elif inspect.iscoroutinefunction(handler):
            self._spawn(self._run_async_handler(ev, handler))
        else:
            # a plain function answers right away, without a task (the reader flushes the answer)
            try:
                response = handler(ev.request)
            except Exception as exc:
                self._answer(ev, None, exc)
            else:
                if inspect.isawaitable(response):
                    self._spawn(self._await_handler(ev, response))
                else:
                    self._answer(ev, response, None)

    async def _run_async_handler(self, ev: rpc.CallReceived, handler: Callable[[Any], Any]) -> None:
        await self._await_handler(ev, handler(ev.request))

    async def _await_handler(self, ev: rpc.CallReceived, awaitable: Any) -> None:
        try:
            response = await awaitable
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._answer(ev, None, exc)
        else:
            self._answer(ev, response, None)
        await self._flush()

    def _answer(self, ev: rpc.CallReceived, response: Any, error: Exception | None) -> None:
        if self._closed:
            return
        core = self.core
        if isinstance(error, OcppCallError):
            code = error.code if error.code in rpc.ERROR_CODES[core.ocpp_version] else "InternalError"
            core.send(rpc.SendError(message_id=ev.message_id, code=code, description=error.description[:255],
                                    details=error.details), self._loop.time())
        elif isinstance(error, RemoteProtocolError) and error.hint is not None:
            # the handler found the peer's request unusable: answer with the code the error names
            log.info("handler of %s refused the request: %s", ev.action, error)
            code = rpc.translate_code(core.ocpp_version, error.hint) or "GenericError"
            core.send(rpc.SendError(message_id=ev.message_id, code=code, description=str(error)[:255]),
                      self._loop.time())
        elif error is not None:
            log.error("handler of %s failed", ev.action, exc_info=error)
            core.send(rpc.SendError(message_id=ev.message_id, code="InternalError",
                                    description=type(error).__name__[:255]), self._loop.time())
        else:
            try:
                core.send(rpc.SendResult(message_id=ev.message_id, response=response), self._loop.time())
            except LocalProtocolError as exc:
                log.error("handler of %s returned an invalid response: %s", ev.action, exc)
                core.send(rpc.SendError(message_id=ev.message_id, code="InternalError",
                                        description="the response could not be built"), self._loop.time())
                return
            after_hooks = getattr(self.peer, "after_hooks", None)
            if after_hooks is not None:
                hooks = after_hooks(ev.action)
                if hooks:
                    self._after.append((hooks, ev.request, response))

    def _on_send(self, ev: rpc.SendReceived) -> None:
        """A 2.1 SEND takes the path of a CALL (one handler lookup; a plain handler runs at once, a coroutine
        in a task), without an answer: a failing handler is logged."""
        handler = self.peer.handler_for(ev.action)
        if handler is None:
            log.info("no handler for SEND %s", ev.action)
            return
        try:
            result = handler(ev.request)
        except Exception:
            log.exception("handler of SEND %s failed", ev.action)
            return
        if inspect.isawaitable(result):
            self._spawn(self._await_send(ev, result))

    async def _await_send(self, ev: rpc.SendReceived, awaitable: Any) -> None:
        try:
            await awaitable
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("handler of SEND %s failed", ev.action)
