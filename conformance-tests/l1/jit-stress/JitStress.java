import java.lang.classfile.ClassFile;
import java.lang.constant.ClassDesc;
import java.lang.constant.ConstantDescs;
import java.lang.constant.MethodTypeDesc;
import java.lang.invoke.MethodHandles;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.function.IntUnaryOperator;

/**
 * Stresses HotSpot's patching of compiled-method entries while other threads call those methods, the
 * pattern behind the JVM crashes seen inside the x86-64 L1 guest (docs/testing.md, "JVMs inside the x86-64 L1").
 *
 * It defines N small classes (ClassFile API), each an IntUnaryOperator, and has T threads call all of them
 * in the same order through one megamorphic interface call site. Each method is compiled by C1 with
 * profiling, then by C2, and the C1 code is made not entrant: HotSpot writes a jump over its entry while
 * the other threads may be entering it. On a machine whose instruction fetch sees such a store atomically
 * this never crashes; a torn view ends the JVM with SIGILL or SIGSEGV and an hs_err file.
 *
 *   java JitStress.java [classes=3000] [threads=2] [rounds=40000]
 * Prints one line and exits 0 when every call returned the expected sum.
 */
public final class JitStress {
    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 3000;
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 40000;
        List<IntUnaryOperator> ops = new ArrayList<>(n);
        MethodHandles.Lookup lookup = MethodHandles.lookup();
        ClassDesc iface = ClassDesc.of("java.util.function.IntUnaryOperator");
        for (int i = 0; i < n; i++) {
            ClassDesc self = ClassDesc.of("JitStressOp" + i);
            int k = i;
            byte[] bytes = ClassFile.of().build(self, cb -> cb
                    .withFlags(ClassFile.ACC_PUBLIC | ClassFile.ACC_FINAL)
                    .withInterfaceSymbols(iface)
                    .withMethodBody(ConstantDescs.INIT_NAME, ConstantDescs.MTD_void, ClassFile.ACC_PUBLIC, code -> code
                            .aload(0).invokespecial(ConstantDescs.CD_Object, ConstantDescs.INIT_NAME, ConstantDescs.MTD_void).return_())
                    .withMethodBody("applyAsInt", MethodTypeDesc.of(ConstantDescs.CD_int, ConstantDescs.CD_int), ClassFile.ACC_PUBLIC, code -> code
                            .iload(1).ldc(31 + k).imul().ldc(k).iadd().iload(1).iconst_3().ishr().ixor().ireturn()));
            Class<?> c = lookup.defineHiddenClass(bytes, true).lookupClass();
            ops.add((IntUnaryOperator) c.getDeclaredConstructor().newInstance());
        }
        long expected = 0;
        for (int i = 0; i < n; i++) {
            expected += ((7 * (31 + i) + i) ^ (7 >> 3));
        }
        CyclicBarrier start = new CyclicBarrier(threads);
        long exp = expected;
        long[] bad = new long[threads];
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int id = t;
            Thread th = new Thread(() -> {
                try {
                    start.await();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
                for (int r = 0; r < rounds; r++) {
                    long sum = 0;
                    for (IntUnaryOperator op : ops) {
                        sum += op.applyAsInt(7);
                    }
                    if (sum != exp) {
                        bad[id]++;
                    }
                }
            });
            ts.add(th);
            th.start();
        }
        for (Thread th : ts) {
            th.join();
        }
        long wrong = 0;
        for (long b : bad) {
            wrong += b;
        }
        System.out.println("JitStress: " + n + " classes, " + threads + " threads, " + rounds + " rounds: " + (wrong == 0 ? "ok" : wrong + " wrong sums"));
        System.exit(wrong == 0 ? 0 : 1);
    }
}
