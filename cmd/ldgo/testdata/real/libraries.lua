-- Every standard library of Lua 5.4 used once or more, each result
-- checked by assert and printed, so that two builds of the host can be
-- compared line by line. arg[1] is a directory for package.cpath and
-- for io's files.
local dir = assert(arg[1], "usage: libraries.lua DIR")

local function show(name, ...)
	local parts = table.pack(...)
	for i = 1, parts.n do parts[i] = tostring(parts[i]) end
	print(name .. ": " .. table.concat(parts, " "))
end

-- base
assert(select("#", 1, nil, 3) == 3)
assert(tonumber("0x10") == 16 and tonumber("z", 36) == 35)
assert(math.type(tonumber("10")) == "integer")
local ok, err = pcall(error, {code = 7})
assert(not ok and err.code == 7)
local t = setmetatable({}, {__index = function(_, k) return k * 2 end, __len = function() return 42 end})
assert(t[21] == 42 and #t == 42)
assert(rawlen({1, 2, 3}) == 3 and rawequal(t, t) and rawget(t, 1) == nil)
local chunk = load("local a, b = ... return a + b")
assert(chunk(2, 3) == 5)
show("base", type(print), tostring(nil), next({}), xpcall(function() error("x", 0) end, function(m) return "handled " .. m end))
collectgarbage("collect")
assert(collectgarbage("count") > 0)

-- coroutine
local gen = coroutine.wrap(function(n)
	for i = 1, n do coroutine.yield(i * i) end
	return "done"
end)
local squares = {gen(4), gen(), gen(), gen(), gen()}
show("coroutine", table.unpack(squares))
local co = coroutine.create(function() coroutine.yield(coroutine.isyieldable()) end)
assert(select(2, coroutine.resume(co)) == true)
assert(coroutine.status(co) == "suspended")
coroutine.resume(co)
assert(coroutine.status(co) == "dead" and coroutine.close(co))
assert(select(2, coroutine.running()) == true)

-- string
local s = string.format("%5.2f|%-4d|%q|%x|%s", math.pi, 42, "a\nb", 255, true)
show("string.format", s)
assert(("hello world"):gsub("o", "0") == "hell0 w0rld")
assert(select(2, ("a,b,,c"):gsub(",", ",")) == 3)
local words = {}
for w in ("the quick brown fox"):gmatch("%a+") do words[#words + 1] = w:upper() end
show("string.gmatch", table.concat(words, "-"))
assert(("key = value"):match("^(%w+)%s*=%s*(%w+)$") == "key")
assert(("abc"):rep(3, ",") == "abc,abc,abc" and ("abc"):reverse() == "cba")
assert(("%d"):format(3) == "3" and ("x"):byte() == 120 and string.char(72, 105) == "Hi")
local packed = string.pack("<i4 d s1 z", -2, 1.5, "ab", "cd")
show("string.pack", #packed, string.unpack("<i4 d s1 z", packed))
assert(string.packsize("i4 i8") == 12 and string.packsize("!8 i4 i8") == 16)
local dumped = string.dump(function(x) return x * 3 end)
assert(load(dumped, "dumped", "b")(5) == 15)

-- utf8
local u = utf8.char(72, 228, 8364, 128512)
show("utf8", #u, utf8.len(u), utf8.codepoint(u, 1, -1))
local cps = {}
for p, c in utf8.codes(u) do cps[#cps + 1] = p .. "=" .. c end
show("utf8.codes", table.concat(cps, ","), utf8.offset(u, 3))

-- table
local list = {5, 3, 8, 1, 9, 2}
table.sort(list)
table.insert(list, 1, 0)
table.insert(list, 10)
assert(table.remove(list) == 10)
table.sort(list, function(a, b) return a > b end)
show("table", table.concat(list, " "), table.unpack(table.move({1, 2, 3}, 1, 3, 2, {9})))

-- math
assert(math.maxinteger + 1 == math.mininteger)
assert(math.floor(-3.5) == -4 and math.ceil(-3.5) == -3 and math.fmod(7, 3) == 1)
assert(math.ult(1, -1) and math.tointeger(3.0) == 3 and math.abs(-2) == 2)
math.randomseed(42)
local r1 = math.random(1, 100)
math.randomseed(42)
assert(math.random(1, 100) == r1)
show("math", string.format("%.6f %.6f %.6f %.6f", math.sin(1), math.sqrt(2), math.exp(1), math.log(8, 2)),
	7 // 2, 7 % -3, 2 ^ 10, 3 & 5, 3 | 5, 3 ~ 5, ~0, 1 << 62, math.huge, -math.huge)

-- io
local path = dir .. "/io.txt"
local f = assert(io.open(path, "w"))
f:write("line one\n", 2, "\n", 3.5, "\n")
f:close()
local lines = {}
for l in io.lines(path) do lines[#lines + 1] = l end
show("io.lines", table.concat(lines, "|"))
f = assert(io.open(path, "r"))
assert(f:read("l") == "line one" and f:read("n") == 2 and f:read("n") == 3.5)
assert(f:seek("set", 5) == 5 and f:read(3) == "one")
assert(f:seek("end") == 15)
f:close()
assert(io.type(f) == "closed file" and io.type(io.stdout) == "file")
local tmp = io.tmpfile()
tmp:write("scratch")
tmp:seek("set")
assert(tmp:read("a") == "scratch")
tmp:close()
local p = io.popen("echo from a pipe")
show("io.popen", p:read("l"))
assert(p:close())
io.write("io.write: ", 1, " ", 2.5, "\n")

-- os
assert(os.time({year = 2000, month = 1, day = 1, hour = 0}) == 946684800)
show("os.date", os.date("!%Y-%m-%d %H:%M:%S", 86400 * 365))
assert(os.getenv("LC_ALL") == "C" and os.getenv("LDGO_NO_SUCH_VARIABLE") == nil)
assert(type(os.clock()) == "number" and os.difftime(10, 4) == 6)
local renamed = dir .. "/io2.txt"
assert(os.rename(path, renamed) and os.remove(renamed))
assert(not io.open(path))
assert(os.execute("exit 3") == nil)
show("os.execute", select(2, os.execute("exit 3")), select(3, os.execute("exit 3")))

-- debug
local function where() return debug.getinfo(1, "Sl") end
local info = where()
show("debug.getinfo", info.short_src:match("[^/]*$"), info.currentline, info.what)
local hooked = 0
debug.sethook(function() hooked = hooked + 1 end, "c")
local function f2() return 1 end
f2(); f2()
debug.sethook()
assert(hooked >= 2)
local name, value = debug.getlocal(1, 1)
show("debug.getlocal", name, type(value))
assert(debug.traceback("tb"):match("^tb\nstack traceback:"))
local up = 10
local function useup() return up end
assert(debug.getupvalue(useup, 1) == "up")
debug.setupvalue(useup, 1, 11)
assert(useup() == 11)

-- package: a C module, built as a shared library, found on
-- package.cpath and bound to this host's Lua API.
package.cpath = dir .. "/?.so"
local mod = require("luamod")
assert(package.loaded.luamod == mod)
show("require", mod.add(2, 3), mod.add(40, 2), mod.calls())
local okc, errc = pcall(mod.fail, 9)
show("C error", okc, errc)
package.preload.pure = function(n) return {name = n} end
assert(require("pure").name == "pure")
assert(package.searchpath("luamod", package.cpath) == dir .. "/luamod.so")

print("all libraries OK")
