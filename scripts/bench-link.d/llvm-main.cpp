// A program that uses much of LLVM: it parses a module of IR, optimizes
// it and compiles it for every registered target that can, printing the
// size of each object file.
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/IRReader/IRReader.h>
#include <llvm/Support/SourceMgr.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/Target/TargetOptions.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/ADT/SmallVector.h>
#include <cstdio>

static const char *ir = "define i32 @square(i32 %x) {\n  %y = mul i32 %x, %x\n  ret i32 %y\n}\n";

int main(int argc, char **argv) {
  llvm::InitializeAllTargetInfos();
  llvm::InitializeAllTargets();
  llvm::InitializeAllTargetMCs();
  llvm::InitializeAllAsmPrinters();
  const char *triples[] = {"x86_64-pc-linux-gnu", "aarch64-linux-gnu", "riscv64-linux-gnu", "wasm32-unknown-unknown"};
  int ok = 0;
  for (const char *triple : triples) {
    llvm::LLVMContext ctx;
    llvm::SMDiagnostic err;
    auto m = llvm::parseIR(llvm::MemoryBufferRef(ir, "square"), err, ctx);
    if (!m) { err.print(argv[0], llvm::errs()); return 1; }
    std::string e;
    const llvm::Target *t = llvm::TargetRegistry::lookupTarget(triple, e);
    if (!t) { printf("%s: %s\n", triple, e.c_str()); continue; }
    llvm::TargetOptions opt;
    auto tm = t->createTargetMachine(triple, "generic", "", opt, llvm::Reloc::PIC_);
    m->setDataLayout(tm->createDataLayout());
    m->setTargetTriple(triple);
    llvm::PassBuilder pb(tm);
    llvm::LoopAnalysisManager lam; llvm::FunctionAnalysisManager fam;
    llvm::CGSCCAnalysisManager cam; llvm::ModuleAnalysisManager mam;
    pb.registerModuleAnalyses(mam); pb.registerCGSCCAnalyses(cam);
    pb.registerFunctionAnalyses(fam); pb.registerLoopAnalyses(lam);
    pb.crossRegisterProxies(lam, fam, cam, mam);
    pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O2).run(*m, mam);
    llvm::SmallVector<char, 0> buf;
    llvm::raw_svector_ostream os(buf);
    llvm::legacy::PassManager pm;
    if (tm->addPassesToEmitFile(pm, os, nullptr, llvm::CGFT_ObjectFile)) { printf("%s: cannot emit\n", triple); continue; }
    pm.run(*m);
    printf("%s: %zu bytes of object code\n", triple, buf.size());
    ok++;
  }
  return ok == 4 ? 0 : 1;
}
